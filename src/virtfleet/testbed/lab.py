"""A lab on a testbed: a `virtfleet agent` process per host and an in-process engine driven
through its API, for the end-to-end tests and the benchmarks that need real guests."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from virtfleet.common.protocol import DEFAULT_AGENT_PORT
from virtfleet.engine.api.app import create_app
from virtfleet.engine.assembly import Engine, build_engine
from virtfleet.engine.bootstrap import seed_defaults
from virtfleet.engine.config import EngineConfig
from virtfleet.testbed.daemons import wait_listening
from virtfleet.testbed.hosts import Testbed, TestbedHost
from virtfleet.testbed.image import GuestImage, find_kernel
from virtfleet.testbed.proc import TestbedError

log = logging.getLogger(__name__)

API = "/ovirt-engine/api"
ADMIN_USER = "admin@internal"
ADMIN_PASSWORD = "password"
ENROLL_SECRET = "testbed lab secret"
MiB = 1024**2
AGENT_LISTEN_S = 90.0  # an agent's first start probes KVM for up to 10 s before it listens
HOST_UP_S = 60.0
JOB_S = 60.0
VIRTFLEET = Path(sys.executable).with_name("virtfleet")
_LOG_TAIL = 4000
LAB_TOOLS = (
    "libvirtd",
    "virtlogd",
    "virsh",
    "qemu-system-x86_64",
    "qemu-img",
    "busybox",
    "qemu-ga",
)
_PACKAGES = (
    "libvirt-daemon-system, libvirt-clients, qemu-system-x86, qemu-utils, busybox-static, "
    "qemu-guest-agent"
)

Agents = dict[str, subprocess.Popen[bytes]]


@dataclass
class EngineClient:
    """The in-process engine's API over ASGI, with the waits scripted scenarios need."""

    ctx: Engine
    http: httpx.AsyncClient

    @classmethod
    def for_context(cls, ctx: Engine) -> EngineClient:
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(ctx)),
            base_url="http://engine",
            auth=(ADMIN_USER, ADMIN_PASSWORD),
            headers={"Accept": "application/json", "Content-Type": "application/json"},
            timeout=60.0,
        )
        return cls(ctx=ctx, http=http)

    async def get(self, path: str) -> dict[str, Any]:
        return _json(await self.http.get(API + path), 200)

    async def post(self, path: str, body: dict[str, Any], expect: int = 201) -> dict[str, Any]:
        return _json(await self.http.post(API + path, json=body), expect)

    async def wait_status(
        self, path: str, wanted: str, timeout: float, *, poll_s: float = 0.2
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            found = await self.get(path)
            if found.get("status") == wanted:
                return found
            if time.monotonic() > deadline:
                raise TestbedError(f"{path} stayed {found.get('status')}, wanted {wanted}")
            await asyncio.sleep(poll_s)

    async def act(self, path: str, action: str, *, wait: bool = True) -> str | None:
        """Post the action; return its job id, after the job has finished when ``wait``."""
        reply = await self.post(f"{path}/{action}", {}, expect=200)
        if "job" not in reply:
            return None
        job_id = str(reply["job"]["id"])
        if wait:
            job = await self.ctx.runner.wait(job_id, JOB_S)
            if job.status is None or job.status.value != "finished":
                raise TestbedError(f"{action} of {path} ended {job.status}: {job}")
        return job_id

    async def aclose(self) -> None:
        await self.http.aclose()


def _json(reply: httpx.Response, expect: int) -> dict[str, Any]:
    if reply.status_code != expect:
        raise TestbedError(f"{reply.request.method} {reply.request.url.path}: {reply.text}")
    found: dict[str, Any] = reply.json()
    return found


@dataclass
class Lab:
    """The testbed, the guest image, one agent process per host and the engine's API."""

    bed: Testbed
    image: GuestImage
    api: EngineClient
    agents: Agents = field(default_factory=dict)

    @property
    def ctx(self) -> Engine:
        return self.api.ctx


def missing_requirements(tools: tuple[str, ...] = LAB_TOOLS) -> str | None:
    """Why a lab cannot run on this machine (not root, a tool or a guest kernel missing)."""
    if os.geteuid() != 0:
        return "the testbed needs root (network namespaces, libvirtd)"
    absent = [tool for tool in tools if shutil.which(tool) is None]
    if absent:
        return f"missing {', '.join(absent)}: install {_PACKAGES}"
    try:
        find_kernel()
    except TestbedError as exc:
        return exc.detail
    return None


def agent_dir(bed: Testbed, host: TestbedHost) -> Path:
    return bed.base_dir / "agents" / host.name


def write_agent_config(bed: Testbed, host: TestbedHost, *, secret: str = ENROLL_SECRET) -> Path:
    """An agent config listening on the host's address and driving the host's own libvirtd."""
    directory = agent_dir(bed, host)
    directory.mkdir(parents=True)
    config = directory / "agent.toml"
    config.write_text(
        f'listen_host = "{host.address}"\n'
        f"port = {DEFAULT_AGENT_PORT}\n"
        f'data_dir = "{directory / "data"}"\n'
        f'driver_uri = "{host.libvirt_uri}"\n'
        f'enrollment_secret = "{secret}"\n'
        "stats_interval_s = 1.0\n"
    )
    return config


def start_agents(bed: Testbed, *, secret: str = ENROLL_SECRET) -> Agents:
    """One `virtfleet agent` per host, in the host's network namespace, logging to agent.log."""
    agents: Agents = {}
    try:
        for host in bed.hosts:
            config = write_agent_config(bed, host, secret=secret)
            with (config.parent / "agent.log").open("wb") as out:
                agents[host.name] = bed.spawn_in(
                    host,
                    [str(VIRTFLEET), "agent", "--config", str(config)],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
    except BaseException:
        stop_agents(agents)
        raise
    return agents


def wait_agents_listening(bed: Testbed, agents: Agents, *, timeout: float = AGENT_LISTEN_S) -> None:
    """Adding a host whose agent does not listen yet fails its install, as it should; wait first.

    Raises TestbedError with the agent's log when one exits or does not listen in time."""
    deadline = time.monotonic() + timeout
    for host in bed.hosts:
        while True:
            try:
                wait_listening(host.address, DEFAULT_AGENT_PORT, timeout=1.0)
                break
            except TestbedError:
                if agents[host.name].poll() is not None or time.monotonic() > deadline:
                    log_file = agent_dir(bed, host) / "agent.log"
                    tail = log_file.read_text(errors="replace")[-_LOG_TAIL:]
                    raise TestbedError(
                        f"agent of {host.name} is not listening; its log:\n{tail}"
                    ) from None


def stop_agents(agents: Agents, *, grace: float = 15.0) -> None:
    """SIGTERM each agent still running, SIGKILL those that outlive ``grace``; by PID only."""
    for proc in agents.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in agents.values():
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def lab_engine(data_dir: Path) -> Engine:
    """An engine with short heartbeat and stats intervals, default objects and the admin user."""
    data_dir.mkdir(parents=True)
    config = EngineConfig(
        data_dir=data_dir,
        host_heartbeat_interval_s=1.0,
        host_stats_interval_s=1.0,
        host_grace_s=10.0,
    )
    ctx = build_engine(config)
    seed_defaults(ctx.database, ctx.clock)
    ctx.auth.ensure_admin(ADMIN_PASSWORD)
    return ctx


@asynccontextmanager
async def open_lab(bed: Testbed, image: GuestImage, engine_dir: Path) -> AsyncIterator[Lab]:
    """Agents listening and the engine running until the block ends; then every VM the engine
    still runs is stopped, the engine stopped and the agents with it."""
    agents = start_agents(bed)
    try:
        await asyncio.to_thread(wait_agents_listening, bed, agents)
        api = EngineClient.for_context(lab_engine(engine_dir))
    except BaseException:
        stop_agents(agents)
        raise
    lab = Lab(bed=bed, image=image, api=api, agents=agents)
    body_done = False
    try:
        await api.ctx.start()
        yield lab
        body_done = True
    finally:
        try:
            await stop_running_vms(api)
        except (TestbedError, httpx.HTTPError, TimeoutError) as exc:
            # The testbed's teardown kills whatever is left in the hosts anyway.
            if body_done:
                raise TestbedError(f"could not stop the VMs at the end: {exc}") from exc
            log.warning("could not stop the VMs at the end: %s", exc)
        finally:
            await api.aclose()
            await api.ctx.stop()
            stop_agents(agents)


async def stop_running_vms(api: EngineClient) -> None:
    """Power off every VM the engine still sees running, so no QEMU outlives the lab."""
    for vm in (await api.get("/vms")).get("vm", []):
        if vm.get("status") not in ("down", "image_locked"):
            await api.act(f"/vms/{vm['id']}", "stop")


async def add_host(lab: Lab, host: TestbedHost) -> str:
    """Add one testbed host to the Default cluster through the API; its id (it is installing)."""
    body = {
        "name": host.name,
        "address": host.address,
        "port": DEFAULT_AGENT_PORT,
        "root_password": ENROLL_SECRET,
        "cluster": {"name": "Default"},
    }
    return str((await lab.api.post("/hosts", body))["id"])


async def add_hosts(lab: Lab) -> dict[str, str]:
    """Add every testbed host to the Default cluster; their ids by name once all are up."""
    ids = {host.name: await add_host(lab, host) for host in lab.bed.hosts}
    for host_id in ids.values():
        await lab.api.wait_status(f"/hosts/{host_id}", "up", HOST_UP_S)
    return ids


async def active_data_domain(lab: Lab, name: str = "data1") -> dict[str, Any]:
    """A posixfs data domain on the testbed's shared directory, active in the default DC."""
    where = lab.bed.shared_dir / name
    where.mkdir()
    body = {
        "name": name,
        "type": "data",
        "storage": {"type": "posixfs", "path": str(where), "vfs_type": "none"},
        "host": {"name": lab.bed.hosts[0].name},
    }
    domain = await lab.api.post("/storagedomains", body)
    await lab.api.wait_status(f"/storagedomains/{domain['id']}", "unattached", JOB_S)
    dc_id = (await lab.api.get("/datacenters"))["data_center"][0]["id"]
    await lab.api.post(f"/datacenters/{dc_id}/storagedomains", {"id": domain["id"]})
    return await lab.api.wait_status(
        f"/datacenters/{dc_id}/storagedomains/{domain['id']}", "active", JOB_S
    )


async def guest_vm(
    lab: Lab, domain: dict[str, Any], name: str = "guest1", **settings: Any
) -> tuple[dict[str, Any], Path]:
    """A 256 MiB VM booting the guest image's kernel, with a 64 MiB thin disk on ``domain``;
    returns the VM, down, and its volume file. ``settings`` are more fields of the new VM."""
    disk = {
        "alias": f"{name}_data",
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
            "kernel": str(lab.image.kernel),
            "initrd": str(lab.image.initrd),
            "cmdline": lab.image.cmdline,
        },
        "disk_attachments": {
            "disk_attachment": [{"bootable": True, "interface": "virtio", "disk": disk}]
        },
        **settings,
    }
    vm = await lab.api.post("/vms", body)
    await lab.api.wait_status(f"/vms/{vm['id']}", "down", JOB_S)
    attachments = (await lab.api.get(f"/vms/{vm['id']}/diskattachments"))["disk_attachment"]
    created = await lab.api.get(f"/disks/{attachments[0]['disk']['id']}")
    volume = Path(
        domain["storage"]["path"], domain["id"], "images", created["id"], created["image_id"]
    )
    if not volume.is_file():
        raise TestbedError(f"the disk of {name} has no volume file at {volume}")
    return vm, volume


def console_log(domain: dict[str, Any], vm_id: str) -> Path:
    """Where the agent writes a VM's serial console when its disk is on ``domain``."""
    return Path(domain["storage"]["path"], domain["id"], "consoles", f"{vm_id}.log")


async def wait_console(
    console: Path, texts: list[str], *, timeout: float, start: int = 0, poll_s: float = 0.5
) -> str:
    """The console output after byte ``start`` once it holds every one of ``texts``."""
    deadline = time.monotonic() + timeout
    seen = ""
    while time.monotonic() < deadline:
        if console.exists():
            with console.open("rb") as f:
                f.seek(start)
                seen = f.read().decode(errors="replace")
            if all(text in seen for text in texts):
                return seen
        await asyncio.sleep(poll_s)
    raise TestbedError(f"{texts} not all in the console {console} within {timeout:g} s: {seen!r}")
