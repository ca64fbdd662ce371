"""vNICs whose bridge the host lacks fall back to user-mode networking."""

from __future__ import annotations

from pathlib import Path

from virtfleet.agent.hypervisor.libvirt.nicfallback import host_bridges, with_local_networks
from virtfleet.common.protocol import NicSpec, VmSpec

VM_ID = "6f1c0b46-3f0e-4a57-9d59-1f1d3c0b2a11"


def _spec(*nics: NicSpec) -> VmSpec:
    return VmSpec(id=VM_ID, name="vm1", memory_bytes=256 * 1024**2, nics=list(nics))


def test_a_vnic_on_a_missing_bridge_uses_user_mode_networking() -> None:
    spec = _spec(NicSpec(mac="56:6f:00:00:00:01", network="ovirtmgmt"))
    changed = with_local_networks(spec, {"virbr0"})
    assert [(n.kind, n.network, n.mac) for n in changed.nics] == [("user", "", "56:6f:00:00:00:01")]


def test_a_vnic_on_an_existing_bridge_is_kept() -> None:
    spec = _spec(NicSpec(mac="56:6f:00:00:00:01", network="ovirtmgmt"))
    assert with_local_networks(spec, {"ovirtmgmt"}) is spec


def test_a_vnic_on_a_libvirt_network_is_kept() -> None:
    spec = _spec(NicSpec(mac="56:6f:00:00:00:01", network="default", kind="network"))
    assert with_local_networks(spec, set()) is spec


def test_host_bridges_are_the_links_with_a_bridge_directory(tmp_path: Path) -> None:
    (tmp_path / "ovirtmgmt" / "bridge").mkdir(parents=True)
    (tmp_path / "eth0").mkdir()
    assert host_bridges(tmp_path) == {"ovirtmgmt"}
    assert host_bridges(tmp_path / "missing") == set()
