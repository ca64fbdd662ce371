"""The tiny guest carries Debian's qemu-guest-agent with exactly the libraries ``ldd`` names."""

from __future__ import annotations

import gzip
from pathlib import Path

from virtfleet.testbed.guestagentfiles import parse_ldd
from virtfleet.testbed.initramfs import build_initramfs

LDD = """\tlinux-vdso.so.1 (0x00007ffd1b3f2000)
\tlibglib-2.0.so.0 => /lib/x86_64-linux-gnu/libglib-2.0.so.0 (0x00007f0c2a0c0000)
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f0c29ee0000)
\t/lib64/ld-linux-x86-64.so.2 (0x00007f0c2a2f0000)
\tlibpcre2-8.so.0 => /lib/x86_64-linux-gnu/libpcre2-8.so.0 (0x00007f0c29e40000)
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f0c29ee0000)
"""


def test_ldd_output_gives_each_library_path_once_and_skips_the_vdso() -> None:
    assert parse_ldd(LDD) == [
        Path("/lib/x86_64-linux-gnu/libglib-2.0.so.0"),
        Path("/lib/x86_64-linux-gnu/libc.so.6"),
        Path("/lib64/ld-linux-x86-64.so.2"),
        Path("/lib/x86_64-linux-gnu/libpcre2-8.so.0"),
    ]


def test_a_missing_library_line_is_not_a_path() -> None:
    assert parse_ldd("\tlibfoo.so.1 => not found\n") == []


def test_the_agent_and_its_libraries_sit_at_their_own_paths_in_the_initramfs(
    tmp_path: Path,
) -> None:
    busybox = tmp_path / "busybox"
    busybox.write_bytes(b"bb")
    agent = tmp_path / "usr" / "sbin" / "qemu-ga"
    agent.parent.mkdir(parents=True)
    agent.write_bytes(b"QGA-BINARY")
    real = tmp_path / "libreal.so"
    real.write_bytes(b"LIB-CONTENT")
    linked = tmp_path / "liblink.so"
    linked.symlink_to(real)

    archive = gzip.decompress(build_initramfs(busybox, [], [agent, linked]))

    assert f"{str(agent).lstrip('/')}\x00".encode() in archive
    assert b"QGA-BINARY" in archive
    assert b"LIB-CONTENT" in archive  # a symlinked library is copied, not linked
    assert b"sbin/shutdown\x00" in archive and b"etc/os-release\x00" in archive
