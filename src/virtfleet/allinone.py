"""``virtfleet up``: an engine and its hosts in one process, with embedded defaults.

The local host and the ``--simulate`` hosts are real agents speaking the real protocol over
mutual TLS on loopback; they are enrolled through the same API path as any added host. The local
host runs real QEMU guests through the local libvirt (checked before anything starts), or, with
``--local-driver test``, simulated ones like the ``--simulate`` hosts.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from virtfleet.agent.config import AgentConfig
from virtfleet.agent.hypervisor.testdriver.node import write_node_file
from virtfleet.agent.main import running_agent
from virtfleet.common import apimodel as m
from virtfleet.common.apimodel.enums import HostStatus, StorageDomainStatus, StorageDomainType
from virtfleet.common.errors import InvalidInput, VirtfleetError
from virtfleet.common.logsetup import configure_logging
from virtfleet.common.protocol import DEFAULT_AGENT_PORT
from virtfleet.common.validation import describe_errors
from virtfleet.engine.assembly import Engine
from virtfleet.engine.config import EngineConfig
from virtfleet.engine.main import engine_url, prepare, serve
from virtfleet.engine.services.base import ROOT, ListQuery, Options, Scope
from virtfleet.localhost_check import check_local_host, default_uri

log = logging.getLogger("virtfleet.up")

LOCAL_HOST = "local"
LOCAL_STORAGE = "local-storage"
DEFAULT_CLUSTER = "Default"
QEMU_DRIVER = "qemu"
TEST_DRIVER = "test"


@dataclass(frozen=True)
class PlannedHost:
    name: str
    config: AgentConfig


def _secret(directory: Path) -> str:
    """Each host's enrollment secret, made once and kept in its data dir."""
    path = directory / "enrollment-secret"
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(24))
        path.chmod(0o600)
    return path.read_text().strip()


def _simulated_uri(directory: Path) -> str:
    return write_node_file(directory / "node.xml")


def local_uri(local_driver: str, libvirt_uri: str | None, euid: int) -> str | None:
    """The local host's libvirt URI, or None when it runs on the test driver."""
    if local_driver == TEST_DRIVER:
        if libvirt_uri is not None:
            raise InvalidInput("--libvirt-uri is for --local-driver qemu, not test")
        return None
    if local_driver != QEMU_DRIVER:
        raise InvalidInput(f"unknown --local-driver {local_driver!r}: use qemu or test")
    return libvirt_uri or default_uri(euid)


def _driver_uri(name: str, directory: Path, local_driver_uri: str | None) -> str:
    if name == LOCAL_HOST and local_driver_uri is not None:
        return local_driver_uri
    return _simulated_uri(directory)


def plan_hosts(
    data_dir: Path,
    simulate: int,
    base_port: int = DEFAULT_AGENT_PORT,
    local_driver_uri: str | None = None,
) -> list[PlannedHost]:
    """The local host on ``local_driver_uri`` (test driver if None), the simulated ones after it."""
    hosts_dir = data_dir / "hosts"
    names = [LOCAL_HOST] + [f"sim-{i:04d}" for i in range(1, simulate + 1)]
    planned = []
    for offset, name in enumerate(names):
        directory = hosts_dir / name
        config = AgentConfig(
            listen_host="127.0.0.1",
            port=base_port + offset,
            data_dir=directory,
            driver_uri=_driver_uri(name, directory, local_driver_uri),
            enrollment_secret=_secret(directory),
            stats_interval_s=15.0,
        )
        planned.append(PlannedHost(name, config))
    return planned


def _find(ctx: Engine, service: str, name: str) -> m.ApiObject | None:
    found = ctx.services[service].list(ROOT, ListQuery(search=f'name="{name}"'))
    return found[0] if found else None


async def _wait_for(
    ctx: Engine, service: str, object_id: str, wanted: Sequence[str], timeout: float = 120.0
) -> str:
    deadline = asyncio.get_running_loop().time() + timeout
    status = ""
    while asyncio.get_running_loop().time() < deadline:
        obj = await asyncio.to_thread(ctx.services[service].get, ROOT, object_id)
        status = str(getattr(obj, "status", "") or "")
        if status in wanted:
            return status
        await asyncio.sleep(0.5)
    return status


async def register_hosts(ctx: Engine, planned: Sequence[PlannedHost]) -> None:
    """Add every planned host that the engine does not know yet, through the hosts service."""
    for host in planned:
        existing = await asyncio.to_thread(_find, ctx, "hosts", host.name)
        if existing is not None:
            continue
        new = m.Host(
            name=host.name,
            address=host.config.listen_host,
            port=host.config.port,
            root_password=host.config.enrollment_secret,
            cluster=m.Cluster(name=DEFAULT_CLUSTER),
        )
        await asyncio.to_thread(ctx.services["hosts"].add, ROOT, new, Options())
        log.info("host added name=%s port=%s", host.name, host.config.port)


async def ensure_local_storage(ctx: Engine, storage_dir: Path) -> None:
    """A data domain on the local storage directory, attached to Default and active."""
    local = await asyncio.to_thread(_find, ctx, "hosts", LOCAL_HOST)
    if local is None or local.id is None:
        return
    status = await _wait_for(ctx, "hosts", local.id, [HostStatus.UP])
    if status != HostStatus.UP:
        log.warning("the local host is %s, not up; no local storage domain yet", status)
        return
    domain = await asyncio.to_thread(_find, ctx, "storage_domains", LOCAL_STORAGE)
    if domain is None:
        storage_dir.mkdir(parents=True, exist_ok=True)
        new = m.StorageDomain(
            name=LOCAL_STORAGE,
            type=StorageDomainType.DATA,
            storage=m.HostStorage(type="posixfs", path=str(storage_dir), vfs_type="none"),
            host=m.Host(name=LOCAL_HOST),
        )
        domain = await asyncio.to_thread(ctx.services["storage_domains"].add, ROOT, new, Options())
    assert domain.id is not None
    status = await _wait_for(
        ctx,
        "storage_domains",
        domain.id,
        [StorageDomainStatus.UNATTACHED, StorageDomainStatus.ACTIVE],
    )
    if status == StorageDomainStatus.UNATTACHED:
        data_center = await asyncio.to_thread(_find, ctx, "data_centers", DEFAULT_CLUSTER)
        if data_center is None or data_center.id is None:
            return
        await asyncio.to_thread(
            ctx.services["attached_storage_domains"].add,
            Scope((data_center.id,)),
            m.StorageDomain(id=domain.id),
            Options(),
        )
        log.info("local storage domain attached to the Default data center")


async def _agents(stack: AsyncExitStack, planned: Sequence[PlannedHost]) -> None:
    for host in planned:
        await stack.enter_async_context(running_agent(host.config))


async def _run(config: EngineConfig, planned: Sequence[PlannedHost], storage_dir: Path) -> None:
    ctx, tls, generated = await asyncio.to_thread(prepare, config)
    if generated:
        print(f"admin@internal password (shown once): {generated}", flush=True)
    local = planned[0].config.driver_uri
    if local.startswith("test:"):
        log.info("the local host runs on libvirt's test driver: its VMs boot no real guest")
    else:
        log.info("the local host runs QEMU guests through libvirt at %s", local)

    async def on_ready() -> None:
        print(f"virtfleet is up: {engine_url(config)} (user admin@internal)", flush=True)
        print(f"CA certificate: {config.pki_dir / 'ca.crt'}", flush=True)
        try:
            await register_hosts(ctx, planned)
            await ensure_local_storage(ctx, storage_dir)
        except VirtfleetError as exc:
            log.error("setting up the local hosts failed: %s", exc.detail)

    async with AsyncExitStack() as stack:
        await _agents(stack, planned)
        await serve(ctx, tls, on_ready=on_ready)
    print("virtfleet stopped", flush=True)


def run_up(
    data_dir: Path,
    port: int,
    simulate: int,
    listen: str,
    agent_port: int = DEFAULT_AGENT_PORT,
    local_driver: str = QEMU_DRIVER,
    libvirt_uri: str | None = None,
    database_url: str | None = None,
) -> None:
    configure_logging()
    data_dir = data_dir.expanduser().absolute()
    uri = local_uri(local_driver, libvirt_uri, os.geteuid())
    config = engine_config(data_dir, listen=listen, port=port, database_url=database_url)
    storage_dir = data_dir / "storage"
    if uri is not None:
        check_local_host(uri, storage_dir)
    planned = plan_hosts(data_dir, simulate, agent_port, uri)
    asyncio.run(_run(config, planned, storage_dir))


def engine_config(
    data_dir: Path, *, listen: str, port: int, database_url: str | None
) -> EngineConfig:
    """The all-in-one engine's settings; a bad ``--database-url`` is refused by name."""
    try:
        return EngineConfig(
            data_dir=data_dir / "engine", listen_host=listen, port=port, database_url=database_url
        )
    except ValidationError as exc:
        raise InvalidInput(f"virtfleet up: {describe_errors(exc)}") from None
