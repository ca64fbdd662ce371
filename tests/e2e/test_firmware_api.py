"""Chipset, firmware and TPM chosen through the API reach a real guest: a VM added with oVirt's
``q35_secure_boot`` BIOS type and ``tpm_enabled`` boots under OVMF with Secure Boot on and a TPM,
and reads the custom SMBIOS serial number the VM was given."""

from __future__ import annotations

from support.e2e import lab_fixtures, requires
from virtfleet.testbed.initramfs import SERIAL_PREFIX, UP_MARKER
from virtfleet.testbed.lab import (
    JOB_S,
    LAB_TOOLS,
    Lab,
    active_data_domain,
    add_hosts,
    console_log,
    guest_vm,
    wait_console,
)

pytestmark = requires(*LAB_TOOLS, "mkfs.ext4", "swtpm")

BOOT_S = 180.0  # OVMF under TCG, then the kernel: slower than SeaBIOS
SECURE_BOOT_LINE = "secureboot: Secure boot enabled"
KERNEL_LOG_CMDLINE = "console=ttyS0 loglevel=7 no_timer_check"


bed_fixture, lab_fixture = lab_fixtures(1, prefix="vff", subnet="10.79.0.0/24")


async def test_a_q35_secure_boot_vm_with_tpm_boots_with_secure_boot_on(lab: Lab) -> None:
    await add_hosts(lab)
    domain = await active_data_domain(lab)
    os_boot = {
        "kernel": str(lab.image.kernel),
        "initrd": str(lab.image.initrd),
        "cmdline": KERNEL_LOG_CMDLINE,  # the kernel's own lines tell Secure Boot and the TPM
    }
    serial = {"policy": "custom", "value": "vf-serial-42"}
    vm, _ = await guest_vm(
        lab,
        domain,
        "uefi1",
        bios={"type": "q35_secure_boot"},
        tpm_enabled=True,
        os=os_boot,
        serial_number=serial,
    )
    assert vm["bios"]["type"] == "q35_secure_boot" and vm["tpm_enabled"] is True
    assert vm["os"]["cmdline"] == KERNEL_LOG_CMDLINE
    path = f"/vms/{vm['id']}"

    await lab.api.act(path, "start")
    await lab.api.wait_status(path, "up", BOOT_S)
    serial_line = f"{SERIAL_PREFIX}vf-serial-42"  # what the guest read from SMBIOS
    output = await wait_console(
        console_log(domain, vm["id"]), [SECURE_BOOT_LINE, UP_MARKER, serial_line], timeout=BOOT_S
    )
    assert "TPM2" in output, "the guest found no TPM"

    await lab.api.act(path, "stop")
    await lab.api.wait_status(path, "down", JOB_S)
