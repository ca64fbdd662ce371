"""Debian's qemu-guest-agent for the tiny guest: the binary and the shared libraries it loads,
found with ``ldd`` so the guest runs the same build as a Debian guest would."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from virtfleet.testbed.proc import TestbedError, run

GUEST_AGENT = "qemu-ga"
_LDD_PATH = re.compile(r"(?:=>\s*)?(/\S+)\s+\(0x[0-9a-f]+\)$")


def find_guest_agent() -> Path:
    found = shutil.which(GUEST_AGENT) or shutil.which(GUEST_AGENT, path="/usr/sbin:/usr/bin")
    if found is None:
        raise TestbedError(
            "qemu-guest-agent is not installed; install it (scripts/setup-system does)"
        )
    return Path(found)


def parse_ldd(output: str) -> list[Path]:
    """The absolute paths of the libraries ``ldd`` lists (the vDSO has none), in its order."""
    paths: list[Path] = []
    for line in output.splitlines():
        match = _LDD_PATH.search(line.strip())
        if match is not None and Path(match.group(1)) not in paths:
            paths.append(Path(match.group(1)))
    return paths


def guest_agent_files() -> list[Path]:
    """The agent binary and every library it needs, each at the path the guest loads it from."""
    binary = find_guest_agent()
    libraries = parse_ldd(run(["ldd", str(binary)], what="listing qemu-ga's libraries"))
    if not libraries:
        raise TestbedError(f"ldd found no libraries for {binary}")
    return [binary, *libraries]
