"""``virtfleet up`` as root on a machine without systemd or a running libvirtd, as on a fresh
Debian CI machine: it starts the system libvirtd itself, boots a real guest, and stops on Ctrl-C.

The whole run happens in a private mount namespace whose /run, /etc/libvirt and /var/*/libvirt
are directories of this test, so the libvirtd it starts touches nothing of the machine's own.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.e2e import requires
from support.ports import free_port_run
from virtfleet.testbed import GuestImage
from virtfleet.testbed.initramfs import SYNCED_MARKER, UP_MARKER
from virtfleet.testbed.lab import LAB_TOOLS
from virtfleet.testbed.processes import is_alive, read_pidfile, terminate

pytestmark = requires(*LAB_TOOLS, "unshare", "mkfs.ext4")

API = "/ovirt-engine/api"
PASSWORD = "up-real-test-password"
MiB = 1024**2
VIRTFLEET = Path(sys.executable).with_name("virtfleet")
START_S = 120.0  # first start: libvirtd, certificates, the KVM probe (up to 10 s), the host
JOB_S = 60.0
GUEST_S = 120.0  # TCG boot of the tiny guest: about 8 s here, much more on a loaded machine
STOP_S = 60.0
# (directory of the test, where the namespace sees it)
BINDS = (
    ("run", "/run"),
    ("lib", "/var/lib/libvirt"),
    ("log", "/var/log/libvirt"),
    ("cache", "/var/cache/libvirt"),
    ("etc", "/etc/libvirt"),
)
DATA_INSIDE = "/var/lib/libvirt/virtfleet"
IMAGES_INSIDE = "/var/lib/libvirt/images"


@dataclass
class PrivateRoot:
    """The directories bound into the namespace; paths inside map to files of the test."""

    base: Path

    def outside(self, inside: str) -> Path:
        for name, target in BINDS:
            if inside == target or inside.startswith(target + "/"):
                return self.base / name / inside[len(target) :].lstrip("/")
        raise AssertionError(f"{inside} is not in the private namespace")

    @property
    def libvirt_socket(self) -> Path:
        return self.base / "run" / "libvirt" / "libvirt-sock"

    def daemon_pids(self) -> list[tuple[int, str]]:
        found = []
        for name in ("libvirtd", "virtlogd"):
            pid = read_pidfile(self.base / "run" / f"{name}.pid")
            if pid is not None:
                found.append((pid, name))
        return found


def _private_root(base: Path) -> PrivateRoot:
    for name, _ in BINDS:
        if name != "etc":
            (base / name).mkdir(parents=True)
    (base / "lib").chmod(0o755)
    etc = base / "etc"
    shutil.copytree("/etc/libvirt", etc, symlinks=True)
    # The machine's own domains and networks must not appear or autostart here: an autostarted
    # `default` network would add a bridge and dnsmasq to the machine's network namespace.
    for pattern in ("qemu/*.xml", "qemu/autostart/*", "qemu/networks/*.xml"):
        for path in etc.glob(pattern):
            path.unlink()
    for path in etc.glob("qemu/networks/autostart/*"):
        path.unlink()
    return PrivateRoot(base)


def _up_script(root: PrivateRoot, port: int, agent_port: int) -> str:
    q = shlex.quote
    lines = [
        "set -e",
        # Copies of other namespaces' /run/netns mounts would keep them alive while this runs.
        'for ns in /run/netns/*; do if [ -e "$ns" ]; then umount "$ns" || true; fi; done',
    ]
    lines += [f"mount --bind {q(str(root.base / name))} {q(target)}" for name, target in BINDS]
    argv = [str(VIRTFLEET), "up", "--data-dir", DATA_INSIDE, "--port", str(port)]
    argv += ["--agent-port", str(agent_port)]
    lines.append("exec " + " ".join(q(a) for a in argv))
    return "\n".join(lines) + "\n"


def _mount_ns(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/mnt")
    except OSError:
        return None


OWN_MOUNT_NS = _mount_ns(os.getpid())


def _private_mount_ns(pid: int) -> str | None:
    """The mount namespace of ``pid`` once it has left ours (unshare has run), else None."""
    found = _mount_ns(pid)
    return found if found is not None and found != OWN_MOUNT_NS else None


def _pids_in(mount_ns: str) -> list[int]:
    """Processes in the test's private namespace; never the machine's own (every process)."""
    if mount_ns == OWN_MOUNT_NS:
        raise AssertionError("refusing to list the processes of the test's own namespace")
    found = []
    for entry in Path("/proc").iterdir():
        pid = int(entry.name) if entry.name.isdigit() else None
        if pid is not None and _mount_ns(pid) == mount_ns and is_alive(pid):
            found.append(pid)
    return found


def _domains(root: PrivateRoot) -> list[str]:
    uri = f"qemu:///system?socket={root.libvirt_socket}"
    done = subprocess.run(
        ["virsh", "-c", uri, "list", "--all", "--name"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return [line for line in done.stdout.splitlines() if line.strip()]


class Up:
    """The ``virtfleet up`` process and an HTTPS client of its API."""

    def __init__(self, root: PrivateRoot, log_file: Path) -> None:
        self.root = root
        self.log_file = log_file
        port = free_port_run(2)
        agent_port = port + 1
        self.url = f"https://localhost:{port}{API}"
        env = {**os.environ, "VIRTFLEET_ADMIN_PASSWORD": PASSWORD}
        argv = ["unshare", "-m", "--propagation", "private", "sh", "-c"]
        with log_file.open("wb") as log:
            self.process = subprocess.Popen(
                [*argv, _up_script(root, port, agent_port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.mount_ns: str | None = None
        self.http: httpx.Client | None = None

    def log_tail(self) -> str:
        return self.log_file.read_text(errors="replace")[-4000:]

    def wait_ready(self) -> httpx.Client:
        ca = self.root.outside(f"{DATA_INSIDE}/engine/pki/ca.crt")
        deadline = time.monotonic() + START_S
        while self.http is None:
            if self.process.poll() is not None:
                pytest.fail(f"virtfleet up exited {self.process.returncode}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                pytest.fail(f"virtfleet up did not answer in time:\n{self.log_tail()}")
            self.mount_ns = self.mount_ns or _private_mount_ns(self.process.pid)
            if ca.exists():
                client = httpx.Client(
                    verify=ssl.create_default_context(cafile=str(ca)),
                    auth=("admin@internal", PASSWORD),
                    headers={"Accept": "application/json", "Content-Type": "application/json"},
                    timeout=60,
                )
                try:
                    if client.get(self.url).status_code == 200:
                        self.http = client
                        break
                except httpx.HTTPError:
                    pass
                client.close()
            time.sleep(0.5)
        return self.http

    def get(self, path: str) -> dict[str, Any]:
        assert self.http is not None
        reply = self.http.get(self.url + path)
        assert reply.status_code == 200, reply.text
        found: dict[str, Any] = reply.json()
        return found

    def post(self, path: str, body: dict[str, Any], expect: int = 201) -> dict[str, Any]:
        assert self.http is not None
        reply = self.http.post(self.url + path, json=body)
        assert reply.status_code == expect, reply.text
        found: dict[str, Any] = reply.json()
        return found

    def wait_status(self, path: str, wanted: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.get(path)
            if found.get("status") == wanted:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{path} stayed {found.get('status')}, wanted {wanted}; log:\n{self.log_tail()}"
                )
            time.sleep(0.5)

    def named(self, collection: str, key: str, name: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for item in self.get(f"/{collection}").get(key, []):
                if item.get("name") == name:
                    return item  # type: ignore[no-any-return]
            if time.monotonic() > deadline:
                raise AssertionError(f"no {name} in /{collection}; log:\n{self.log_tail()}")
            time.sleep(0.5)

    def interrupt(self) -> int:
        if self.http is not None:
            self.http.close()  # an idle keep-alive connection would hold up the graceful stop
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=STOP_S)

    def kill_everything(self) -> None:
        """Whatever is left in the namespace (up, libvirtd, virtlogd, QEMU), by PID."""
        if self.http is not None:
            self.http.close()
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        terminate(self.root.daemon_pids())
        if self.mount_ns is not None:
            terminate([(pid, None) for pid in _pids_in(self.mount_ns)], grace=5.0)


@pytest.fixture(name="up")
def up_fixture(tmp_path: Path, image: GuestImage) -> Iterator[Up]:
    root = _private_root(tmp_path / "root")
    images = root.outside(IMAGES_INSIDE)
    images.mkdir(parents=True, exist_ok=True)
    images.chmod(0o755)
    for source in (image.kernel, image.initrd):
        shutil.copyfile(source, images / source.name)
    up = Up(root, tmp_path / "up.log")
    try:
        yield up
    finally:
        up.kill_everything()
    namespace = up.mount_ns
    assert namespace is None or _pids_in(namespace) == [], "a process outlived the test"
    assert not any(is_alive(pid, name) for pid, name in root.daemon_pids())
    shutil.rmtree(root.base)
    assert not root.base.exists()


def _guest(
    up: Up, image: GuestImage, domain: dict[str, Any], name: str = "guest1"
) -> dict[str, Any]:
    """A 256 MiB VM booting the tiny guest, a NIC on ovirtmgmt and a disk on local storage."""
    disk = {
        "alias": "guest_data",
        "format": "cow",
        "provisioned_size": 64 * MiB,
        "storage_domains": {"storage_domain": [{"id": domain["id"]}]},
    }
    body = {
        "name": name,
        "cluster": {"name": "Default"},
        "template": {"name": "Blank"},
        "memory": 256 * MiB,
        "os": {
            "kernel": f"{IMAGES_INSIDE}/{image.kernel.name}",
            "initrd": f"{IMAGES_INSIDE}/{image.initrd.name}",
            "cmdline": image.cmdline,
        },
        "disk_attachments": {
            "disk_attachment": [{"bootable": True, "interface": "virtio", "disk": disk}]
        },
    }
    vm = up.post("/vms", body)
    up.wait_status(f"/vms/{vm['id']}", "down", JOB_S)
    profile = up.named("vnicprofiles", "vnic_profile", "ovirtmgmt", JOB_S)
    up.post(f"/vms/{vm['id']}/nics", {"name": "nic1", "vnic_profile": {"id": profile["id"]}})
    attachment = up.get(f"/vms/{vm['id']}/diskattachments")["disk_attachment"][0]
    created = up.get(f"/disks/{attachment['disk']['id']}")
    inside = f"{domain['storage']['path']}/{domain['id']}/images/{created['id']}"
    volume = up.root.outside(f"{inside}/{created['image_id']}")
    subprocess.run(
        ["qemu-img", "convert", "-O", "qcow2", str(image.data_disk), str(volume)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return vm


def ready_with_storage(up: Up) -> dict[str, Any]:
    """Wait until up answers, its local host is up and its storage active; that domain."""
    up.wait_ready()
    host = up.named("hosts", "host", "local", START_S)
    up.wait_status(f"/hosts/{host['id']}", "up", START_S)
    domain = up.named("storagedomains", "storage_domain", "local-storage", START_S)
    return up.wait_status(f"/storagedomains/{domain['id']}", "active", START_S)


def _wait_console(up: Up, log: Path, texts: list[str]) -> str:
    deadline = time.monotonic() + GUEST_S
    seen = ""
    while time.monotonic() < deadline:
        if log.exists():
            seen = log.read_text(errors="replace")
            if all(text in seen for text in texts):
                return seen
        time.sleep(0.5)
    raise AssertionError(f"{texts} not all in {log}: {seen!r}; log:\n{up.log_tail()}")


def test_up_starts_libvirtd_boots_a_real_guest_and_stops_cleanly_on_ctrl_c(
    up: Up, image: GuestImage
) -> None:
    domain = ready_with_storage(up)
    assert domain["storage"]["path"] == f"{DATA_INSIDE}/storage"

    vm = _guest(up, image, domain)
    vm_path = f"/vms/{vm['id']}"
    up.post(f"{vm_path}/start", {}, expect=200)
    up.wait_status(vm_path, "up", GUEST_S)
    console = up.root.outside(f"{domain['storage']['path']}/{domain['id']}/consoles")
    boot = _wait_console(up, console / f"{vm['id']}.log", [UP_MARKER, SYNCED_MARKER])
    assert "DATA: hello-from-base" in boot

    up.post(f"{vm_path}/stop", {}, expect=200)
    up.wait_status(vm_path, "down", JOB_S)
    assert _domains(up.root) == []

    assert up.interrupt() == 0, up.log_tail()
    log = up.log_file.read_text(errors="replace")
    assert "started libvirtd and virtlogd" in log
    assert "the local host runs QEMU guests through libvirt at qemu:///system" in log
    assert "virtfleet stopped" in log
    assert "Traceback" not in log
