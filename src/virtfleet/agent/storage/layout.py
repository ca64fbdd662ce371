"""Where a storage domain keeps things on disk, and its JSON metadata files (DESIGN.md §4).

``<root>/<domain-id>/dom_md/metadata`` describes the domain;
``<root>/<domain-id>/images/<image-id>/<volume-id>`` is a volume and ``<volume-id>.meta`` its
metadata. Every id must be a canonical UUID, so no id can lead a path out of the root.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from virtfleet.common.errors import AgentError, InvalidInput

LAYOUT_VERSION = 1
META_SUFFIX = ".meta"


class Legality(StrEnum):
    """ILLEGAL while a volume is being created or removed, so a crash leaves a visible mark."""

    LEGAL = "LEGAL"
    ILLEGAL = "ILLEGAL"


def require_uuid(value: str, what: str) -> str:
    """``value`` itself if it is a UUID in canonical lower-case form, else InvalidInput."""
    try:
        canonical: str | None = str(uuid.UUID(value))
    except ValueError:
        canonical = None
    if canonical != value:
        raise InvalidInput(f"{what} {value!r} is not a canonical UUID")
    return value


@dataclass(frozen=True)
class DomainLayout:
    """The paths of one storage domain under its root directory."""

    root: Path
    domain_id: str

    @classmethod
    def at(cls, root: str, domain_id: str) -> DomainLayout:
        path = Path(root)
        if not path.is_absolute():
            raise InvalidInput(f"storage path {root!r} is not absolute")
        return cls(path, require_uuid(domain_id, "storage domain id"))

    @property
    def directory(self) -> Path:
        return self.root / self.domain_id

    @property
    def metadata_path(self) -> Path:
        return self.directory / "dom_md" / "metadata"

    @property
    def images_dir(self) -> Path:
        return self.directory / "images"

    def image_dir(self, image_id: str) -> Path:
        return self.images_dir / require_uuid(image_id, "image id")

    def volume_path(self, image_id: str, volume_id: str) -> Path:
        return self.image_dir(image_id) / require_uuid(volume_id, "volume id")

    def volume_meta_path(self, image_id: str, volume_id: str) -> Path:
        volume = self.volume_path(image_id, volume_id)
        return volume.with_name(volume.name + META_SUFFIX)

    def volume_metas(self) -> list[Path]:
        """Every volume metadata file of the domain."""
        return sorted(self.images_dir.glob(f"*/*{META_SUFFIX}"))


def backing_reference(image_id: str, parent_image_id: str, parent_volume_id: str) -> str:
    """The parent's path relative to the child's image directory, valid on every host."""
    if parent_image_id == image_id:
        return parent_volume_id
    return f"../{parent_image_id}/{parent_volume_id}"


@dataclass(frozen=True)
class DomainMetadata:
    id: str
    name: str
    type: str
    version: int
    created: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DomainMetadata:
        try:
            return cls(
                id=str(data["id"]),
                name=str(data["name"]),
                type=str(data["type"]),
                version=int(data["version"]),
                created=str(data["created"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise AgentError(f"storage domain metadata is malformed: {exc}") from exc


@dataclass(frozen=True)
class VolumeMetadata:
    image: str
    volume: str
    format: str
    parent_image: str | None
    parent_volume: str | None
    capacity: int
    legality: Legality
    ctime: int

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> VolumeMetadata:
        try:
            return cls(
                image=str(data["image"]),
                volume=str(data["volume"]),
                format=str(data["format"]),
                parent_image=data.get("parent_image"),
                parent_volume=data.get("parent_volume"),
                capacity=int(data["capacity"]),
                legality=Legality(data["legality"]),
                ctime=int(data["ctime"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise AgentError(f"volume metadata is malformed: {exc}") from exc


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``; FileNotFoundError propagates for callers to judge."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise AgentError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise AgentError(f"{path} does not hold a JSON object")
    return data


def write_json(path: Path, record: DomainMetadata | VolumeMetadata) -> None:
    """Write ``record`` so readers on any host see the old file or the new one, never half."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(asdict(record), out, indent=2, sort_keys=True)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
