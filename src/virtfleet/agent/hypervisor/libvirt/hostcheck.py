"""What this host can run: cluster CPU types and firmware, from libvirt's own comparisons."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

import libvirt

from virtfleet.common.cputypes import CLUSTER_CPU_TYPES, ClusterCpuType

from .cpumodels import comparison_xml

log = logging.getLogger(__name__)

_Q35 = "q35"


@dataclass(frozen=True)
class GuestSupport:
    cluster_cpu_types: list[str]
    uefi: bool
    secure_boot: bool
    tpm: bool


def can_run(conn: Any, cluster_type: ClusterCpuType, arch: str, virt_type: str) -> bool:
    """Whether QEMU here (KVM or TCG) runs ``cluster_type``'s model with all its features."""
    try:
        result = conn.compareHypervisorCPU(
            None, arch, None, virt_type, comparison_xml(cluster_type), 0
        )
    except libvirt.libvirtError as exc:
        log.debug("CPU comparison failed type=%s: %s", cluster_type.name, exc)
        return False
    return bool(result >= libvirt.VIR_CPU_COMPARE_IDENTICAL)


def supported_cluster_cpu_types(conn: Any, arch: str, virt_type: str) -> list[str]:
    """The names of the cluster CPU types a VM on this host can be given, in table order."""
    return [t.name for t in CLUSTER_CPU_TYPES.values() if can_run(conn, t, arch, virt_type)]


def guest_support(conn: Any, arch: str, virt_type: str) -> GuestSupport:
    """CPU types, and UEFI/Secure Boot/TPM as libvirt's Q35 domain capabilities report them."""
    try:
        caps = ET.fromstring(conn.getDomainCapabilities(None, arch, _Q35, virt_type, 0))
    except libvirt.libvirtError as exc:
        log.warning("no domain capabilities arch=%s type=%s: %s", arch, virt_type, exc)
        caps = ET.Element("domainCapabilities")
    firmware = {v.text for v in caps.iterfind("os/enum[@name='firmware']/value")}
    secure = {v.text for v in caps.iterfind("os/loader/enum[@name='secure']/value")}
    tpm = caps.find("devices/tpm")
    return GuestSupport(
        cluster_cpu_types=supported_cluster_cpu_types(conn, arch, virt_type),
        uefi="efi" in firmware,
        secure_boot="efi" in firmware and "yes" in secure,
        tpm=tpm is not None and tpm.get("supported") == "yes",
    )
