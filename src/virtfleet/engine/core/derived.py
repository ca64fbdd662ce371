"""Values derived from a VM's or disk's configuration, defined once."""

from __future__ import annotations

from typing import Literal

from virtfleet.common import apimodel as m
from virtfleet.common.apimodel.enums import DiskFormat


def vcpu_count(cpu: m.Cpu | None) -> int:
    """Sockets x cores x threads, each 1 when not given (oVirt's default topology)."""
    topology = cpu.topology if cpu is not None else None
    if topology is None:
        return 1
    return (topology.sockets or 1) * (topology.cores or 1) * (topology.threads or 1)


def volume_format(disk_format: DiskFormat | None) -> Literal["raw", "qcow2"]:
    """The image format on storage for an API disk format (``cow`` is qcow2)."""
    return "raw" if disk_format == DiskFormat.RAW else "qcow2"
