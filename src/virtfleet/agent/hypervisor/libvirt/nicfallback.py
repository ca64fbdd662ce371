"""vNICs on a bridge this host lacks get user-mode networking, so a laptop without an
``ovirtmgmt`` bridge still starts VMs (with outbound network only) instead of failing."""

from __future__ import annotations

import logging
from collections.abc import Collection
from pathlib import Path

from virtfleet.common.protocol import NicSpec, VmSpec

log = logging.getLogger(__name__)

SYS_CLASS_NET = Path("/sys/class/net")


def host_bridges(sys_class_net: Path = SYS_CLASS_NET) -> set[str]:
    """Names of the Linux bridges in this host's network namespace."""
    try:
        links = list(sys_class_net.iterdir())
    except OSError:
        return set()
    return {link.name for link in links if (link / "bridge").is_dir()}


def local_nic(nic: NicSpec, bridges: Collection[str], vm_id: str) -> NicSpec:
    """``nic``, or a user-mode vNIC when its bridge is missing here."""
    if nic.kind != "bridge" or nic.network in bridges:
        return nic
    log.warning(
        "no bridge %r on this host: vNIC %s of VM %s uses user-mode networking",
        nic.network,
        nic.mac,
        vm_id,
    )
    return nic.model_copy(update={"kind": "user", "network": ""})


def with_local_networks(spec: VmSpec, bridges: Collection[str]) -> VmSpec:
    """``spec`` with every vNIC whose bridge is missing here turned into a user-mode vNIC."""
    nics = [local_nic(nic, bridges, spec.id) for nic in spec.nics]
    if nics == list(spec.nics):
        return spec
    return spec.model_copy(update={"nics": nics})
