"""A thin typed wrapper over the ``qemu-img`` binary; results come from its JSON output only."""

from __future__ import annotations

import json
import logging
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from virtfleet.common.errors import AgentError, InvalidInput

log = logging.getLogger(__name__)

QEMU_IMG = "qemu-img"
FORMATS = frozenset({"qcow2", "raw"})
PREALLOCATIONS = frozenset({"off", "metadata", "falloc", "full"})

# qemu-img check exit codes that still come with a JSON report (2: corrupt, 3: leaks).
_CHECK_REPORTED = {0, 2, 3}


@dataclass(frozen=True)
class ImageInfo:
    """What ``qemu-img info`` says of one image."""

    filename: str
    format: str
    virtual_size: int
    actual_size: int
    dirty: bool = False
    cluster_size: int | None = None
    backing_filename: str | None = None
    full_backing_filename: str | None = None
    backing_format: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ImageInfo:
        return cls(
            filename=data["filename"],
            format=data["format"],
            virtual_size=int(data["virtual-size"]),
            actual_size=int(data.get("actual-size", 0)),
            dirty=bool(data.get("dirty-flag", False)),
            cluster_size=data.get("cluster-size"),
            backing_filename=data.get("backing-filename"),
            full_backing_filename=data.get("full-backing-filename"),
            backing_format=data.get("backing-filename-format"),
        )


@dataclass(frozen=True)
class CheckResult:
    """What ``qemu-img check`` found in one image."""

    filename: str
    format: str
    corruptions: int
    leaks: int
    check_errors: int
    image_end_offset: int | None = None

    @property
    def clean(self) -> bool:
        return self.corruptions == 0 and self.leaks == 0 and self.check_errors == 0

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CheckResult:
        return cls(
            filename=data["filename"],
            format=data["format"],
            corruptions=int(data.get("corruptions", 0)),
            leaks=int(data.get("leaks", 0)),
            check_errors=int(data.get("check-errors", 0)),
            image_end_offset=data.get("image-end-offset"),
        )


def _run(args: list[str], *, ok_codes: frozenset[int] | set[int] = frozenset({0})) -> str:
    command = [QEMU_IMG, *args]
    log.debug("running %s", command)
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise AgentError(f"{QEMU_IMG} is not installed") from exc
    if done.returncode not in ok_codes:
        message = done.stderr.strip() or f"exit status {done.returncode}"
        raise AgentError(f"qemu-img {args[0]} failed: {message}")
    return done.stdout


def _parse(output: str, what: str) -> dict[str, Any]:
    try:
        data = json.loads(output)
    except json.JSONDecodeError as exc:
        raise AgentError(f"qemu-img {what} returned no JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise AgentError(f"qemu-img {what} returned JSON that is not an object")
    return data


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise InvalidInput(f"unsupported image format {fmt!r}")


def _options(preallocation: str | None) -> list[str]:
    if preallocation is None:
        return []
    if preallocation not in PREALLOCATIONS:
        raise InvalidInput(f"unsupported preallocation {preallocation!r}")
    return ["-o", f"preallocation={preallocation}"]


def create(
    path: str,
    format: str,
    size: int | None,
    backing: str | None = None,
    backing_format: str | None = None,
    preallocation: str | None = None,
) -> None:
    """Create an image; with ``backing`` (relative to ``path``'s directory) an overlay on it."""
    _check_format(format)
    args = ["create", "-f", format, *_options(preallocation)]
    if backing is not None:
        if backing_format is None:
            raise InvalidInput("a backing file needs its format")
        _check_format(backing_format)
        args += ["-b", backing, "-F", backing_format]
    elif size is None:
        raise InvalidInput("an image without a backing file needs a size")
    args.append(path)
    if size is not None:
        args.append(str(size))
    _run(args)


def info(path: str, format: str | None = None) -> ImageInfo:
    """Describe one image, read even while a running VM holds it open.

    Give ``format`` when it is known: probing lets a raw guest disk pass itself off as qcow2.
    """
    args = ["info", "--output=json", "-U"]
    if format is not None:
        _check_format(format)
        args += ["-f", format]
    return ImageInfo.from_json(_parse(_run([*args, path]), "info"))


def check(path: str, format: str = "qcow2") -> CheckResult:
    """Check an image's consistency (qcow2 only: raw images have nothing to check)."""
    output = _run(["check", "--output=json", "-f", format, path], ok_codes=_CHECK_REPORTED)
    return CheckResult.from_json(_parse(output, "check"))


def convert(
    src: str,
    dst: str,
    *,
    src_format: str,
    dst_format: str,
    preallocation: str | None = None,
) -> None:
    """Copy ``src`` (with its whole backing chain) into a standalone image ``dst``."""
    _check_format(src_format)
    _check_format(dst_format)
    args = ["convert", "-f", src_format, "-O", dst_format, *_options(preallocation), src, dst]
    _run(args)


def rebase(
    path: str,
    backing: str,
    backing_format: str,
    *,
    unsafe: bool = False,
) -> None:
    """Point a qcow2 overlay at another backing file; ``unsafe`` only rewrites the header."""
    _check_format(backing_format)
    args = ["rebase", "-f", "qcow2", "-b", backing, "-F", backing_format]
    if unsafe:
        args.append("-u")
    args.append(path)
    _run(args)


def commit(path: str) -> None:
    """Merge a qcow2 overlay's data down into its backing file."""
    _run(["commit", "-f", "qcow2", path])
