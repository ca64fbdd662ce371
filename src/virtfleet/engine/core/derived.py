"""Values derived from a VM's or disk's configuration, defined once (the vCPU count, which the
CLI shows too, is ``common.apimodel.common.vcpu_count``)."""

from __future__ import annotations

from typing import Literal

from virtfleet.common.apimodel.enums import DiskFormat


def volume_format(disk_format: DiskFormat | None) -> Literal["raw", "qcow2"]:
    """The image format on storage for an API disk format (``cow`` is qcow2)."""
    return "raw" if disk_format == DiskFormat.RAW else "qcow2"
