"""The SDK's run-once examples, unchanged but for their connection, on a real guest under
``virtfleet up``: start_vm_with_boot_devices.py puts its boot order in the live domain for that
run only, start_vm_with_cloud_init.py gives the guest a seed disk whose user data the guest
prints on its serial console, and a volatile start leaves nothing on the VM's disk."""

from __future__ import annotations

import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import ovirtsdk4 as sdk
import pytest
from test_up_real import (  # noqa: F401
    DATA_INSIDE,
    GUEST_S,
    JOB_S,
    PASSWORD,
    Up,
    _guest,
    ready_with_storage,
    up_fixture,
)

from support.e2e import requires
from support.sdkexamples import Connection, run_example, sdk_examples
from virtfleet.testbed import GuestImage
from virtfleet.testbed.initramfs import NO_SEED_MARKER, SEED_MARKER, SEED_PREFIX, UP_MARKER
from virtfleet.testbed.lab import LAB_TOOLS

pytestmark = [*requires(*LAB_TOOLS, "unshare", "mkfs.ext4", "genisoimage")]

EXAMPLE_S = 240.0


class Guest:
    """The VM's live domain (``virsh dumpxml`` on up's libvirtd) and its serial console."""

    def __init__(self, up: Up, vm_id: str, console: Path) -> None:
        self.up = up
        self.vm_id = vm_id
        self.console = console
        self.mark = 0

    def domain(self) -> ET.Element:
        uri = f"qemu:///system?socket={self.up.root.libvirt_socket}"
        done = subprocess.run(
            ["virsh", "-c", uri, "dumpxml", self.vm_id],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return ET.fromstring(done.stdout)

    def boot_order(self) -> list[str | None]:
        return [boot.get("dev") for boot in self.domain().findall("os/boot")]

    def next_boot(self) -> None:
        """What the console shows from here on belongs to the next boot."""
        self.mark = self.console.stat().st_size if self.console.exists() else 0

    def wait_console(self, texts: list[str]) -> str:
        deadline = time.monotonic() + GUEST_S
        seen = ""
        while time.monotonic() < deadline:
            if self.console.exists():
                with self.console.open("rb") as log:
                    log.seek(self.mark)
                    seen = log.read().decode(errors="replace")
                if all(text in seen for text in texts):
                    return seen
            time.sleep(0.5)
        raise AssertionError(f"{texts} not all on the console: {seen!r}\n{self.up.log_tail()}")

    def stop(self) -> None:
        self.up.post(f"/vms/{self.vm_id}/stop", {}, expect=200)
        self.up.wait_status(f"/vms/{self.vm_id}", "down", JOB_S)


def _seed_of(domain: ET.Element) -> str | None:
    for disk in domain.findall("devices/disk"):
        source = disk.find("source")
        if disk.get("device") == "cdrom" and source is not None:
            return source.get("file")
    return None


@pytest.mark.timeout(1200)
def test_the_sdks_run_once_examples_do_what_they_say_on_a_real_guest(
    up: Up, image: GuestImage, tmp_path: Path
) -> None:
    domain = ready_with_storage(up)
    vm = _guest(up, image, domain, name="myvm")  # the name the examples look for
    consoles = up.root.outside(f"{domain['storage']['path']}/{domain['id']}/consoles")
    guest = Guest(up, vm["id"], consoles / f"{vm['id']}.log")
    ca_file = up.root.outside(f"{DATA_INSIDE}/engine/pki/ca.crt")
    connection = Connection(up.url, "admin@internal", PASSWORD, ca_file)
    examples = sdk_examples()

    def example(name: str) -> None:
        done = run_example(examples, name, connection, tmp_path, timeout=EXAMPLE_S)
        assert done.returncode == 0, f"{name}: {done.stderr[-3000:]}\n{up.log_tail()}"

    # boot devices for this run: in the live domain, and no seed disk
    guest.next_boot()
    example("start_vm_with_boot_devices")  # waits until the VM is up
    assert guest.boot_order() == ["network", "cdrom"]
    guest.wait_console([UP_MARKER, NO_SEED_MARKER, "BOOT 1"])
    guest.stop()

    # cloud-init: the guest mounts the seed (label cidata) and prints what it holds
    guest.next_boot()
    example("start_vm_with_cloud_init")
    up.wait_status(f"/vms/{vm['id']}", "up", GUEST_S)
    seen = guest.wait_console([SEED_MARKER, "BOOT 2"])
    printed = [line.rstrip("\r") for line in seen.splitlines() if line.startswith(SEED_PREFIX)]
    for wanted in (
        'user-data: "hostname": "myvm.example.com"',
        "user-data:       Hello, world!",  # the example's custom script
        # the example's root_password='...' reads as a connection password to sdkexamples
        f'user-data:   "list": "root:{PASSWORD}"',
        'network-config:         "address": "192.168.0.100"',
    ):
        assert SEED_PREFIX + wanted in printed, printed
    assert guest.boot_order() == ["hd"]  # the VM's own again: the boot devices were one run's
    seed = _seed_of(guest.domain())
    assert seed is not None and up.root.outside(seed).is_file()
    guest.stop()
    assert not up.root.outside(seed).exists(), "the seed disk outlived its run"

    # volatile: what the guest writes during the run is gone when it stops
    sdk_connection = sdk.Connection(
        url=up.url, username="admin@internal", password=PASSWORD, ca_file=str(ca_file)
    )
    try:
        guest.next_boot()
        sdk_connection.system_service().vms_service().vm_service(vm["id"]).start(volatile=True)
        up.wait_status(f"/vms/{vm['id']}", "up", GUEST_S)
        guest.wait_console([NO_SEED_MARKER, "BOOT 3"])
        assert guest.domain().find("devices/disk/transient") is not None
        guest.stop()
    finally:
        sdk_connection.close()

    guest.next_boot()
    up.post(f"/vms/{vm['id']}/start", {}, expect=200)
    up.wait_status(f"/vms/{vm['id']}", "up", GUEST_S)
    seen = guest.wait_console([NO_SEED_MARKER, "BOOT 3"])  # the volatile run's boot 3 is gone
    assert "BOOT 4" not in seen
    assert guest.domain().find("devices/disk/transient") is None
    guest.stop()
    assert up.interrupt() == 0, up.log_tail()
