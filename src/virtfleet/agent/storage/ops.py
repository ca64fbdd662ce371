"""Storage operations of an agent on a shared storage domain: the domain and its volumes."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from virtfleet.common.errors import Conflict, InvalidInput, NotFound
from virtfleet.common.protocol import (
    DomainCreate,
    DomainInfo,
    DomainRef,
    DomainUsage,
    VolumeCreate,
    VolumeInfo,
    VolumeRef,
    VolumeUsage,
)

from . import qemuimg
from .layout import (
    LAYOUT_VERSION,
    DomainLayout,
    DomainMetadata,
    Legality,
    VolumeMetadata,
    backing_reference,
    read_json,
    require_uuid,
    write_json,
)

log = logging.getLogger(__name__)


class StorageOps:
    """Create, inspect and remove storage domains and their volumes with qemu-img."""

    # --- domains ---------------------------------------------------------------------------

    def create_domain(self, request: DomainCreate) -> DomainInfo:
        """Lay out a new domain in ``request.path``; repeating the same request changes nothing."""
        layout = DomainLayout.at(request.path, request.domain_id)
        root = layout.root
        if not root.is_dir():
            raise InvalidInput(f"storage path {root} is not an existing directory")
        if not os.access(root, os.W_OK | os.X_OK):
            raise InvalidInput(f"storage path {root} is not writable")
        for other in root.iterdir():
            if other.name != layout.domain_id and (other / "dom_md" / "metadata").is_file():
                raise Conflict(f"storage path {root} already holds storage domain {other.name}")
        if layout.metadata_path.exists():
            existing = self._metadata(layout)
            if (existing.name, existing.type) != (request.name, request.storage_type):
                raise Conflict(f"storage domain {layout.domain_id} exists with other settings")
            return self._info(layout)
        layout.metadata_path.parent.mkdir(parents=True, exist_ok=True)
        layout.images_dir.mkdir(exist_ok=True)
        write_json(
            layout.metadata_path,
            DomainMetadata(
                id=layout.domain_id,
                name=request.name,
                type=request.storage_type,
                version=LAYOUT_VERSION,
                created=datetime.now(UTC).isoformat(timespec="seconds"),
            ),
        )
        log.info("storage domain created domain_id=%s path=%s", layout.domain_id, root)
        return self._info(layout)

    def connect_domain(self, ref: DomainRef) -> DomainInfo:
        """Check the domain's metadata is on the path and names this domain."""
        layout = DomainLayout.at(ref.path, ref.domain_id)
        self._metadata(layout)
        if not layout.images_dir.is_dir():
            raise NotFound(f"storage domain {ref.domain_id} has no images directory")
        return self._info(layout)

    def domain_info(self, ref: DomainRef) -> DomainInfo:
        layout = DomainLayout.at(ref.path, ref.domain_id)
        if not layout.directory.is_dir():
            raise NotFound(f"no storage domain {ref.domain_id} in {ref.path}")
        return self._info(layout)

    def domain_usage(self, ref: DomainRef) -> DomainUsage:
        """The domain's space and each volume's allocated bytes (what ``qemu-img info`` calls
        actual size, read from the file system without opening the images)."""
        layout = DomainLayout.at(ref.path, ref.domain_id)
        self._metadata(layout)
        info = self._info(layout)
        volumes = []
        for metadata in self._all_volume_metadata(layout):
            path = layout.volume_path(metadata.image, metadata.volume)
            try:
                allocated = path.stat().st_blocks * 512
            except FileNotFoundError:
                continue  # metadata of a volume being created or removed
            volumes.append(
                VolumeUsage(
                    image_id=metadata.image, volume_id=metadata.volume, actual_size=allocated
                )
            )
        return DomainUsage(
            domain_id=info.domain_id,
            total_bytes=info.total_bytes,
            free_bytes=info.free_bytes,
            volumes=volumes,
        )

    def remove_domain(self, ref: DomainRef) -> None:
        """Delete ``<root>/<domain-id>`` and everything in it, once it proves to be that domain."""
        layout = DomainLayout.at(ref.path, ref.domain_id)
        self._metadata(layout)
        shutil.rmtree(layout.directory)
        log.info("storage domain removed domain_id=%s path=%s", ref.domain_id, ref.path)

    def _metadata(self, layout: DomainLayout) -> DomainMetadata:
        try:
            metadata = DomainMetadata.from_json(read_json(layout.metadata_path))
        except FileNotFoundError:
            raise NotFound(f"no storage domain {layout.domain_id} in {layout.root}") from None
        if metadata.id != layout.domain_id:
            raise Conflict(
                f"metadata in {layout.directory} names domain {metadata.id}, not {layout.domain_id}"
            )
        return metadata

    def _info(self, layout: DomainLayout) -> DomainInfo:
        st = os.statvfs(layout.directory)
        return DomainInfo(
            domain_id=layout.domain_id,
            total_bytes=st.f_blocks * st.f_frsize,
            free_bytes=st.f_bavail * st.f_frsize,
        )

    # --- volumes ---------------------------------------------------------------------------

    def create_volume(self, request: VolumeCreate) -> VolumeInfo:
        """A new volume, or a qcow2 overlay on a parent volume; repeating it changes nothing."""
        layout = DomainLayout.at(request.path, request.domain_id)
        self._metadata(layout)
        path = layout.volume_path(request.image_id, request.volume_id)
        meta_path = layout.volume_meta_path(request.image_id, request.volume_id)
        parent = self._parent(layout, request)
        if request.format not in qemuimg.FORMATS:
            raise InvalidInput(f"unsupported volume format {request.format!r}")
        if parent is None and request.size_bytes <= 0:
            raise InvalidInput("a volume without a parent needs a positive size")
        metadata = VolumeMetadata(
            image=request.image_id,
            volume=request.volume_id,
            format=request.format,
            parent_image=request.backing_image_id,
            parent_volume=request.backing_volume_id,
            capacity=max(request.size_bytes, parent.capacity if parent else 0),
            legality=Legality.ILLEGAL,
            ctime=int(time.time()),
        )
        if meta_path.exists() or path.exists():
            return self._existing_volume(layout, request, metadata)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json(meta_path, metadata)
        try:
            self._create_image(request, path, parent, metadata.capacity)
        except BaseException:
            path.unlink(missing_ok=True)
            meta_path.unlink(missing_ok=True)
            _remove_if_empty(path.parent)
            raise
        write_json(meta_path, replace(metadata, legality=Legality.LEGAL))
        log.info("volume created image_id=%s volume_id=%s", request.image_id, request.volume_id)
        return self._volume_info(layout, request.image_id, request.volume_id)

    def _parent(self, layout: DomainLayout, request: VolumeCreate) -> VolumeMetadata | None:
        image, volume = request.backing_image_id, request.backing_volume_id
        if image is None and volume is None:
            return None
        if image is None or volume is None:
            raise InvalidInput("a parent volume needs both its image id and volume id")
        if request.format != "qcow2":
            raise InvalidInput("only a qcow2 volume can have a parent volume")
        parent = self._volume_metadata(layout, image, volume)
        if parent.legality != Legality.LEGAL:
            raise Conflict(f"parent volume {volume} is not legal")
        return parent

    def _create_image(
        self, request: VolumeCreate, path: Path, parent: VolumeMetadata | None, capacity: int
    ) -> None:
        if parent is None:
            qemuimg.create(
                str(path),
                request.format,
                request.size_bytes,
                preallocation=None if request.sparse else "falloc",
            )
            return
        qemuimg.create(
            str(path),
            "qcow2",
            capacity,
            backing=backing_reference(request.image_id, parent.image, parent.volume),
            backing_format=parent.format,
        )

    def _existing_volume(
        self, layout: DomainLayout, request: VolumeCreate, wanted: VolumeMetadata
    ) -> VolumeInfo:
        try:
            current = self._volume_metadata(layout, request.image_id, request.volume_id)
        except NotFound:
            raise Conflict(f"volume {request.volume_id} exists without its metadata") from None
        same = (current.format, current.parent_image, current.parent_volume) == (
            wanted.format,
            wanted.parent_image,
            wanted.parent_volume,
        )
        if not same or current.legality != Legality.LEGAL:
            raise Conflict(f"volume {request.volume_id} already exists")
        return self._volume_info(layout, request.image_id, request.volume_id)

    def volume_info(self, ref: VolumeRef) -> VolumeInfo:
        layout = DomainLayout.at(ref.path, ref.domain_id)
        return self._volume_info(layout, ref.image_id, ref.volume_id)

    def _volume_info(self, layout: DomainLayout, image_id: str, volume_id: str) -> VolumeInfo:
        metadata = self._volume_metadata(layout, image_id, volume_id)
        path = layout.volume_path(image_id, volume_id)
        if not path.is_file():
            raise NotFound(f"volume {volume_id} has metadata but no data file")
        image = qemuimg.info(str(path), metadata.format)
        return VolumeInfo(
            image_id=image_id,
            volume_id=volume_id,
            format=image.format,
            virtual_size=image.virtual_size,
            actual_size=image.actual_size,
            path=str(path),
        )

    def remove_volume(self, ref: VolumeRef) -> None:
        """Delete a volume and its metadata; refused while another volume is built on it."""
        layout = DomainLayout.at(ref.path, ref.domain_id)
        metadata = self._volume_metadata(layout, ref.image_id, ref.volume_id)
        children = [
            child.volume
            for child in self._all_volume_metadata(layout)
            if (child.parent_image, child.parent_volume) == (ref.image_id, ref.volume_id)
        ]
        if children:
            raise Conflict(f"volume {ref.volume_id} is the parent of {', '.join(children)}")
        meta_path = layout.volume_meta_path(ref.image_id, ref.volume_id)
        write_json(meta_path, replace(metadata, legality=Legality.ILLEGAL))
        path = layout.volume_path(ref.image_id, ref.volume_id)
        path.unlink(missing_ok=True)
        meta_path.unlink()
        _remove_if_empty(path.parent)
        log.info("volume removed image_id=%s volume_id=%s", ref.image_id, ref.volume_id)

    def _volume_metadata(
        self, layout: DomainLayout, image_id: str, volume_id: str
    ) -> VolumeMetadata:
        require_uuid(image_id, "image id")
        require_uuid(volume_id, "volume id")
        try:
            return VolumeMetadata.from_json(read_json(layout.volume_meta_path(image_id, volume_id)))
        except FileNotFoundError:
            raise NotFound(f"no volume {volume_id} in image {image_id}") from None

    def _all_volume_metadata(self, layout: DomainLayout) -> list[VolumeMetadata]:
        return [VolumeMetadata.from_json(read_json(path)) for path in layout.volume_metas()]


def _remove_if_empty(directory: Path) -> None:
    """Drop an image directory its last volume left; a non-empty one stays."""
    with contextlib.suppress(OSError):
        directory.rmdir()
