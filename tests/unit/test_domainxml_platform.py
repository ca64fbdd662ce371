"""Firmware, CPU model, display and Windows choices in the domain XML, and the specs refused."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, timezone

import pytest

from virtfleet.agent.hypervisor.libvirt.cpumodels import comparison_xml
from virtfleet.agent.hypervisor.libvirt.domainxml import PCIE_ROOT_PORTS, build_domain
from virtfleet.common.cputypes import CLUSTER_CPU_TYPES
from virtfleet.common.errors import InvalidInput
from virtfleet.common.protocol import GraphicsSpec, NicSpec, VmSpec

VM_ID = "6f1a1b0e-3c3e-4b8e-9a57-2f4c8a9d0e11"
GIB = 1024**3


def _root(domain_type: str = "kvm", **fields: object) -> ET.Element:
    spec = VmSpec.model_validate({"id": VM_ID, "name": "vm", "memory_bytes": GIB, **fields})
    return ET.fromstring(build_domain(spec, domain_type).to_xml())


def test_secure_boot_uses_the_secure_ovmf_build_with_enrolled_keys_and_smm() -> None:
    root = _root(machine="q35", firmware="uefi", secure_boot=True)
    loader = root.find("os/loader")
    assert loader is not None and loader.get("secure") == "yes"
    assert loader.text is not None and loader.text.endswith("OVMF_CODE_4M.secboot.fd")
    nvram = root.find("os/nvram")
    assert nvram is not None and str(nvram.get("template")).endswith("OVMF_VARS_4M.ms.fd")
    assert root.find("features/smm[@state='on']") is not None


def test_bios_vm_has_no_loader_and_no_smm() -> None:
    root = _root()
    assert root.find("os/loader") is None
    assert root.find("features/smm") is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"secure_boot": True, "machine": "q35"}, "UEFI"),
        ({"secure_boot": True, "firmware": "uefi", "machine": "pc"}, "q35"),
        ({"firmware": "coreboot"}, "firmware"),
        ({"cpu_type": "Intel Pentium Family"}, "CPU type"),
        ({"cmdline": "console=ttyS0"}, "kernel"),
        ({"watchdog_action": "explode"}, "watchdog"),
        ({"graphics": [{"type": "rdp"}]}, "graphics"),
        ({"nics": [{"mac": "56:6f:00:00:00:01", "network": "x", "kind": "vhost"}]}, "NIC"),
    ],
)
def test_impossible_specs_are_invalid(fields: dict[str, object], message: str) -> None:
    spec = VmSpec.model_validate({"id": VM_ID, "name": "vm", "memory_bytes": GIB, **fields})
    with pytest.raises(InvalidInput, match=message):
        build_domain(spec, "kvm")


def test_tpm_is_crb_on_q35_and_tis_on_i440fx() -> None:
    assert _root(machine="q35", tpm=True).find("devices/tpm[@model='tpm-crb']") is not None
    assert _root(machine="pc", tpm=True).find("devices/tpm[@model='tpm-tis']") is not None


def test_a_q35_vm_has_free_pcie_root_ports_for_hot_plugged_devices() -> None:
    ports = _root(machine="q35").findall("devices/controller[@model='pcie-root-port']")
    assert len(ports) == PCIE_ROOT_PORTS and all(p.get("type") == "pci" for p in ports)
    assert _root(machine="pc").findall("devices/controller[@model='pcie-root-port']") == []


def test_cluster_cpu_type_pins_the_model_and_its_features() -> None:
    cpu = _root(cpu_type="Secure AMD EPYC").find("cpu")
    assert cpu is not None and cpu.get("mode") == "custom"
    assert cpu.findtext("model") == "EPYC"
    required = {f.get("name") for f in cpu.iterfind("feature[@policy='require']")}
    assert required == {"ibpb", "virt-ssbd"}


def test_every_cluster_cpu_type_compares_as_a_model_without_topology() -> None:
    for cluster_type in CLUSTER_CPU_TYPES.values():
        cpu = ET.fromstring(comparison_xml(cluster_type))
        assert cpu.findtext("model") == cluster_type.model
        assert cpu.find("topology") is None


def test_display_without_a_ticket_starts_locked_with_an_expired_password() -> None:
    graphics = _root(graphics=[{"type": "vnc"}]).find("devices/graphics")
    assert graphics is not None
    assert graphics.get("passwd")
    assert graphics.get("passwdValidTo") == "1970-01-01T00:00:00"


def test_ticket_expiry_is_written_in_utc() -> None:
    valid_to = datetime(2030, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    graphics = _root(
        graphics=[GraphicsSpec(type="spice", password="pw", password_valid_to=valid_to)]
    ).find("devices/graphics")
    assert graphics is not None and graphics.get("passwdValidTo") == "2030-01-01T10:00:00"


def test_spice_display_gets_qxl_video_and_the_agent_channel() -> None:
    root = _root(
        graphics=[{"type": "spice", "password": "x", "password_valid_to": datetime.now(UTC)}]
    )
    assert root.find("devices/video/model[@type='qxl']") is not None
    assert root.find("devices/channel[@type='spicevmc']") is not None


def test_windows_on_kvm_gets_hyperv_localtime_and_smbios() -> None:
    root = _root("kvm", os_type="windows_10x64")
    assert root.find("features/hyperv/relaxed[@state='on']") is not None
    assert root.find("clock[@offset='localtime']/timer[@name='hypervclock']") is not None
    assert root.find("os/smbios[@mode='sysinfo']") is not None
    assert root.findtext("sysinfo/system/entry[@name='uuid']") == VM_ID


def test_windows_on_tcg_keeps_localtime_but_no_hyperv_enlightenments() -> None:
    root = _root("qemu", os_type="windows_2019x64")
    assert root.find("features/hyperv") is None
    assert root.find("clock[@offset='localtime']/timer[@name='hypervclock']") is None


def test_a_serial_number_is_an_smbios_entry_of_any_guest() -> None:
    root = _root(os_type="rhel_9x64", serial_number="abc-123")
    assert root.find("os/smbios[@mode='sysinfo']") is not None
    assert root.findtext("sysinfo/system/entry[@name='serial']") == "abc-123"


def test_linux_guest_keeps_utc_and_no_sysinfo() -> None:
    root = _root(os_type="rhel_9x64")
    assert root.find("clock[@offset='utc']") is not None
    assert root.find("sysinfo") is None


def test_serial_log_path_logs_the_serial_pty_to_one_appended_file() -> None:
    root = _root(serial_log_path="/logs/vm.log")
    for tag in ("serial", "console"):
        log_file = root.find(f"devices/{tag}[@type='pty']/log")
        assert log_file is not None
        assert (log_file.get("file"), log_file.get("append")) == ("/logs/vm.log", "on")


def test_user_nic_has_no_source_and_network_nic_names_its_network() -> None:
    nics = [
        NicSpec(mac="56:6f:00:00:00:01", network="", kind="user"),
        NicSpec(mac="56:6f:00:00:00:02", network="default", kind="network"),
    ]
    user, network = _root(nics=nics).iterfind("devices/interface")
    assert user.get("type") == "user" and user.find("source") is None
    source = network.find("source")
    assert source is not None and source.get("network") == "default"


def test_memballoon_can_be_turned_off_so_libvirt_adds_none_of_its_own() -> None:
    assert _root(memballoon=False).find("devices/memballoon[@model='none']") is not None
    assert _root().find("devices/memballoon[@model='virtio']") is not None


def test_simulated_test_driver_vms_get_no_balloon() -> None:
    assert _root("test").find("devices/memballoon") is None
