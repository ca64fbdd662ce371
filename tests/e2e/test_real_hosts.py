"""The engine drives real QEMU guests on two testbed hosts through its API: a guest's data
survives a stop and a start on the other host, and a killed QEMU is reported down."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from virtfleet.common.protocol import DEFAULT_AGENT_PORT
from virtfleet.engine.api.app import create_app
from virtfleet.engine.bootstrap import seed_defaults
from virtfleet.engine.config import EngineConfig
from virtfleet.engine.context import EngineContext, build_context, default_service_factories
from virtfleet.engine.services.eventlog import EventCode
from virtfleet.testbed import GuestImage, Testbed, TestbedError, TestbedHost, build_guest_image
from virtfleet.testbed.daemons import wait_listening
from virtfleet.testbed.image import find_kernel
from virtfleet.testbed.initramfs import SYNCED_MARKER, UP_MARKER
from virtfleet.testbed.namespaces import netns_pids
from virtfleet.testbed.processes import is_alive

log = logging.getLogger(__name__)
_TOOLS = ("libvirtd", "virtlogd", "qemu-system-x86_64", "qemu-img", "busybox", "mkfs.ext4")


def _kernel_missing() -> bool:
    try:
        find_kernel()
    except TestbedError:
        return True
    return False


pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="the testbed needs root"),
    pytest.mark.skipif(
        not all(shutil.which(t) for t in _TOOLS),
        reason="needs libvirt-daemon-system, qemu-system-x86, qemu-utils, busybox-static",
    ),
    pytest.mark.skipif(_kernel_missing(), reason="needs a guest kernel in /boot (linux-image)"),
]

API = "/ovirt-engine/api"
ADMIN_PASSWORD = "password"
SECRET = "real hosts secret"
MiB = 1024**2
HOST_UP_S = 60.0
AGENT_LISTEN_S = 90.0  # an agent's first start probes KVM for up to 10 s before it listens
JOB_S = 60.0
GUEST_S = 90.0  # TCG boot of the tiny guest: about 8 s here, much more on a loaded machine
CRASH_REPORT_S = 30.0
VIRTFLEET = Path(sys.executable).with_name("virtfleet")


@dataclass
class RealHosts:
    """The testbed, one agent process per host, and an in-process engine with its API client."""

    bed: Testbed
    image: GuestImage
    ctx: EngineContext
    http: httpx.AsyncClient
    agents: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    async def get(self, path: str) -> dict[str, Any]:
        reply = await self.http.get(API + path)
        assert reply.status_code == 200, reply.text
        found: dict[str, Any] = reply.json()
        return found

    async def post(self, path: str, body: dict[str, Any], expect: int = 201) -> dict[str, Any]:
        reply = await self.http.post(API + path, json=body)
        assert reply.status_code == expect, reply.text
        found: dict[str, Any] = reply.json()
        return found

    async def wait_status(self, path: str, wanted: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            found = await self.get(path)
            if found.get("status") == wanted:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"{path} stayed {found.get('status')}, wanted {wanted}")
            await asyncio.sleep(0.2)

    async def act(self, path: str, action: str) -> None:
        """Post the action and wait until its job, if it started one, has finished."""
        reply = await self.post(f"{path}/{action}", {}, expect=200)
        if "job" not in reply:
            return
        job = await self.ctx.runner.wait(reply["job"]["id"], JOB_S)
        assert job.status is not None and job.status.value == "finished", job

    def vm_events(self, vm_id: str, codes: Collection[int]) -> list[Any]:
        with self.ctx.database.read() as conn:
            found = self.ctx.eventlog.list(conn)
        return [e for e in found if e.vm is not None and e.vm.id == vm_id and e.code in codes]


def _agent_config(bed: Testbed, host: TestbedHost) -> Path:
    directory = bed.base_dir / "agents" / host.name
    directory.mkdir(parents=True)
    config = directory / "agent.toml"
    config.write_text(
        f'listen_host = "{host.address}"\n'
        f"port = {DEFAULT_AGENT_PORT}\n"
        f'data_dir = "{directory / "data"}"\n'
        f'driver_uri = "{host.libvirt_uri}"\n'
        f'enrollment_secret = "{SECRET}"\n'
        "stats_interval_s = 1.0\n"
    )
    return config


def _start_agents(bed: Testbed) -> dict[str, subprocess.Popen[bytes]]:
    agents = {}
    for host in bed.hosts:
        config = _agent_config(bed, host)
        log = (config.parent / "agent.log").open("wb")
        agents[host.name] = bed.spawn_in(
            host,
            [str(VIRTFLEET), "agent", "--config", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
    return agents


def _wait_agents_listening(bed: Testbed, agents: dict[str, subprocess.Popen[bytes]]) -> None:
    """Adding a host whose agent does not listen yet fails its install, as it should; wait first."""
    deadline = time.monotonic() + AGENT_LISTEN_S
    for host in bed.hosts:
        log_file = bed.base_dir / "agents" / host.name / "agent.log"
        while True:
            try:
                wait_listening(host.address, DEFAULT_AGENT_PORT, timeout=1.0)
                break
            except TestbedError:
                proc = agents[host.name]
                if proc.poll() is not None or time.monotonic() > deadline:
                    tail = log_file.read_text(errors="replace")[-4000:]
                    pytest.fail(f"agent of {host.name} is not listening; its log:\n{tail}")


def _stop_agents(agents: dict[str, subprocess.Popen[bytes]]) -> None:
    for proc in agents.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in agents.values():
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _engine(data_dir: Path) -> EngineContext:
    data_dir.mkdir(parents=True)
    config = EngineConfig(
        data_dir=data_dir,
        host_heartbeat_interval_s=1.0,
        host_stats_interval_s=1.0,
        host_grace_s=10.0,
    )
    ctx = build_context(config, service_factories=default_service_factories())
    seed_defaults(ctx.database, ctx.clock)
    ctx.auth.ensure_admin(ADMIN_PASSWORD)
    return ctx


def _names(directory: Path, prefix: str) -> list[str]:
    found = directory.iterdir() if directory.is_dir() else iter(())
    return [p.name for p in found if p.name.startswith(prefix)]


@pytest.fixture(name="image")
def image_fixture(tmp_path_factory: pytest.TempPathFactory) -> GuestImage:
    return build_guest_image(tmp_path_factory.mktemp("guest-image"))


@pytest.fixture(name="bed")
def bed_fixture(tmp_path: Path) -> Iterator[Testbed]:
    with Testbed.up(tmp_path / "bed", 2, prefix="vfa", subnet="10.74.0.0/24") as bed:
        yield bed
    assert _names(Path("/run/netns"), "vfa") == []
    assert _names(Path("/sys/class/net"), "vfa") == []
    assert not (tmp_path / "bed").exists()


@pytest.fixture(name="lab")
async def lab_fixture(bed: Testbed, image: GuestImage, tmp_path: Path) -> AsyncIterator[RealHosts]:
    agents = _start_agents(bed)
    try:
        await asyncio.to_thread(_wait_agents_listening, bed, agents)
    except BaseException:
        _stop_agents(agents)
        raise
    ctx = _engine(tmp_path / "engine")
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(ctx)),
        base_url="http://engine",
        auth=("admin@internal", ADMIN_PASSWORD),
        headers={"Accept": "application/json", "Content-Type": "application/json"},
        timeout=60.0,
    )
    lab = RealHosts(bed=bed, image=image, ctx=ctx, http=http, agents=agents)
    try:
        await ctx.start()
        yield lab
    finally:
        await _stop_vms(lab)
        await http.aclose()
        await ctx.stop()
        _stop_agents(agents)
    assert not [p.pid for p in agents.values() if is_alive(p.pid)]


async def _stop_vms(lab: RealHosts) -> None:
    """Power off every VM the engine still sees running, so no QEMU outlives the test."""
    try:
        listed = (await lab.get("/vms")).get("vm", [])
        for vm in listed:
            if vm.get("status") not in ("down", "image_locked"):
                await lab.act(f"/vms/{vm['id']}", "stop")
    except (AssertionError, httpx.HTTPError) as exc:
        # the testbed's teardown kills whatever is left in the hosts anyway
        pytest.fail(f"could not stop the VMs at the end: {exc}", pytrace=False)


async def _add_hosts(lab: RealHosts) -> dict[str, str]:
    ids = {}
    for host in lab.bed.hosts:
        body = {
            "name": host.name,
            "address": host.address,
            "port": DEFAULT_AGENT_PORT,
            "root_password": SECRET,
            "cluster": {"name": "Default"},
        }
        ids[host.name] = (await lab.post("/hosts", body))["id"]
    for host_id in ids.values():
        await lab.wait_status(f"/hosts/{host_id}", "up", HOST_UP_S)
    return ids


async def _active_domain(lab: RealHosts) -> dict[str, Any]:
    where = lab.bed.shared_dir / "data1"
    where.mkdir()
    body = {
        "name": "data1",
        "type": "data",
        "storage": {"type": "posixfs", "path": str(where), "vfs_type": "none"},
        "host": {"name": lab.bed.hosts[0].name},
    }
    domain = await lab.post("/storagedomains", body)
    await lab.wait_status(f"/storagedomains/{domain['id']}", "unattached", JOB_S)
    dc_id = (await lab.get("/datacenters"))["data_center"][0]["id"]
    await lab.post(f"/datacenters/{dc_id}/storagedomains", {"id": domain["id"]})
    return await lab.wait_status(
        f"/datacenters/{dc_id}/storagedomains/{domain['id']}", "active", JOB_S
    )


async def _guest_vm(lab: RealHosts, domain: dict[str, Any]) -> tuple[dict[str, Any], Path]:
    """A 256 MiB VM booting the guest image's kernel, with a 64 MiB thin disk on ``domain``;
    returns the VM and its volume file."""
    disk = {
        "alias": "guest_data",
        "format": "cow",
        "provisioned_size": 64 * MiB,
        "storage_domains": {"storage_domain": [{"id": domain["id"]}]},
    }
    body = {
        "name": "guest1",
        "cluster": {"name": "Default"},
        "template": {"name": "Blank"},
        "memory": 256 * MiB,
        "os": {
            "kernel": str(lab.image.kernel),
            "initrd": str(lab.image.initrd),
            "cmdline": lab.image.cmdline,
        },
        "disk_attachments": {
            "disk_attachment": [{"bootable": True, "interface": "virtio", "disk": disk}]
        },
    }
    vm = await lab.post("/vms", body)
    await lab.wait_status(f"/vms/{vm['id']}", "down", JOB_S)
    attachments = (await lab.get(f"/vms/{vm['id']}/diskattachments"))["disk_attachment"]
    created = await lab.get(f"/disks/{attachments[0]['disk']['id']}")
    volume = Path(
        domain["storage"]["path"], domain["id"], "images", created["id"], created["image_id"]
    )
    assert volume.is_file()
    return vm, volume


def _fill_volume(base: Path, volume: Path) -> None:
    """Test set-up, as there is no upload API yet: the new volume gets the guest's data disk."""
    subprocess.run(
        ["qemu-img", "convert", "-O", "qcow2", str(base), str(volume)],
        check=True,
        capture_output=True,
        timeout=60,
    )


async def _wait_console(log: Path, texts: list[str], start: int = 0) -> str:
    """The console output after byte ``start`` once it holds every one of ``texts``."""
    deadline = time.monotonic() + GUEST_S
    seen = ""
    while time.monotonic() < deadline:
        if log.exists():
            with log.open("rb") as f:
                f.seek(start)
                seen = f.read().decode(errors="replace")
            if all(text in seen for text in texts):
                return seen
        await asyncio.sleep(0.5)
    raise AssertionError(f"{texts} not all in the console {log} within {GUEST_S:g} s: {seen!r}")


def _qemu_pids(bed: Testbed, host: TestbedHost, vm_id: str) -> list[int]:
    found = []
    for pid in netns_pids(host.netns):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and b"qemu-system" in argv[0] and any(vm_id.encode() in a for a in argv):
            found.append(pid)
    return found


async def test_guest_data_survives_a_restart_on_another_host_and_a_killed_qemu_is_reported_down(
    lab: RealHosts,
) -> None:
    started = time.monotonic()
    host_ids = await _add_hosts(lab)
    by_id = {host_id: name for name, host_id in host_ids.items()}
    domain = await _active_domain(lab)
    vm, volume = await _guest_vm(lab, domain)
    vm_path = f"/vms/{vm['id']}"
    _fill_volume(lab.image.data_disk, volume)
    console = Path(domain["storage"]["path"], domain["id"], "consoles", f"{vm['id']}.log")

    await lab.act(vm_path, "start")
    first = await lab.wait_status(vm_path, "up", GUEST_S)
    first_host = first["host"]["id"]
    boot = await _wait_console(console, [UP_MARKER, "DATA: hello-from-base", SYNCED_MARKER])
    log.info("first boot synced after %.1f s", time.monotonic() - started)
    assert "BOOT 1" in boot

    # The tiny guest has no ACPI daemon and would ignore a shutdown: power it off.
    await lab.act(vm_path, "stop")
    await lab.wait_status(vm_path, "down", JOB_S)
    assert _qemu_pids(lab.bed, lab.bed.host(by_id[first_host]), vm["id"]) == []

    await lab.act(f"/hosts/{first_host}", "deactivate")
    await lab.wait_status(f"/hosts/{first_host}", "maintenance", JOB_S)
    offset = console.stat().st_size
    await lab.act(vm_path, "start")
    second = await lab.wait_status(vm_path, "up", GUEST_S)
    second_host = second["host"]["id"]
    assert second_host != first_host
    again = await _wait_console(console, ["DATA: boot 1", SYNCED_MARKER], start=offset)
    log.info("second boot synced after %.1f s", time.monotonic() - started)
    assert "DATA: hello-from-base" in again and "BOOT 2" in again

    qemu = _qemu_pids(lab.bed, lab.bed.host(by_id[second_host]), vm["id"])
    assert len(qemu) == 1, qemu
    codes = {EventCode.VM_DOWN, EventCode.VM_CRASHED}
    before = len(lab.vm_events(vm["id"], codes))
    killed_at = time.monotonic()
    os.kill(qemu[0], signal.SIGKILL)
    down = await lab.wait_status(vm_path, "down", CRASH_REPORT_S)
    log.info("killed QEMU reported down in %.1f s", time.monotonic() - killed_at)
    assert down.get("host") is None
    assert len(lab.vm_events(vm["id"], codes)) > before, "no event tells that the VM went down"
    assert time.monotonic() - started < 240
