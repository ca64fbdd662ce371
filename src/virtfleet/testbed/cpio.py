"""A writer for the newc cpio format the kernel unpacks as initramfs; no root needed for nodes."""

from __future__ import annotations

import stat
from dataclasses import dataclass

_MAGIC = b"070701"
_TRAILER = "TRAILER!!!"


@dataclass(frozen=True)
class Entry:
    """One archive member: a directory, a regular file, a symlink or a character device."""

    path: str
    mode: int
    data: bytes = b""
    rdev: tuple[int, int] = (0, 0)


def directory(path: str, perm: int = 0o755) -> Entry:
    return Entry(path, stat.S_IFDIR | perm)


def regular(path: str, data: bytes, perm: int = 0o644) -> Entry:
    return Entry(path, stat.S_IFREG | perm, data)


def symlink(path: str, target: str) -> Entry:
    return Entry(path, stat.S_IFLNK | 0o777, target.encode())


def char_device(path: str, major: int, minor: int, perm: int = 0o600) -> Entry:
    return Entry(path, stat.S_IFCHR | perm, rdev=(major, minor))


def pack(entries: list[Entry]) -> bytes:
    """The archive bytes: entries in order with fixed owner (root) and mtime (0), then the
    trailer, so the same entries always give the same bytes."""
    out = bytearray()
    for ino, entry in enumerate(entries, start=1):
        nlink = 2 if stat.S_ISDIR(entry.mode) else 1
        _append(out, entry.path.lstrip("/"), ino, entry.mode, nlink, entry.data, entry.rdev)
    _append(out, _TRAILER, 0, 0, 1, b"", (0, 0))
    return bytes(out)


def _append(
    out: bytearray, name: str, ino: int, mode: int, nlink: int, data: bytes, rdev: tuple[int, int]
) -> None:
    encoded = name.encode() + b"\0"
    fields = (ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1], len(encoded), 0)
    out += _MAGIC + b"".join(b"%08X" % value for value in fields)
    out += encoded
    out += b"\0" * (-len(out) % 4)
    out += data
    out += b"\0" * (-len(out) % 4)
