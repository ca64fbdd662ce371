"""A storage lab for the storage and disk tests: an engine on SQLite with the storage services,
real in-process agents on libvirt's test driver with real StorageOps, and an HTTP client."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from labkit import API, LOOPBACK, api_client, seeded_engine
from sqlalchemy import select

from virtfleet.agent.config import AgentConfig
from virtfleet.agent.hypervisor.factory import open_driver
from virtfleet.agent.server import AgentServer
from virtfleet.agent.storage import StorageOps
from virtfleet.common import apimodel as m
from virtfleet.common import pki
from virtfleet.common.apimodel.enums import HostStatus, VmStatus
from virtfleet.common.apimodel.system import Job
from virtfleet.engine.agentclient import enroll_agent
from virtfleet.engine.assembly import Engine
from virtfleet.engine.config import EngineConfig
from virtfleet.engine.monitoring.connections import HostConnections
from virtfleet.engine.persistence import repositories as repos
from virtfleet.engine.persistence import tables

SECRET = "storage lab secret"
GIB = 1024**3
JOB_TIMEOUT_S = 30.0


class Lab:
    """One engine lifetime plus the agents it talks to; ``restart`` keeps the database."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.pki_dir = tmp_path / "pki"
        self.ca = pki.CertificateAuthority.load_or_create(self.pki_dir)
        self.agents: dict[str, tuple[AgentServer, Any]] = {}
        self.ctx: Engine
        self.connections: HostConnections
        self.http: httpx.AsyncClient

    async def open(self, connections: HostConnections | None = None) -> None:
        data_dir = self.tmp_path / "engine"
        data_dir.mkdir(exist_ok=True)
        self.connections = connections or HostConnections(self.pki_dir)
        self.ctx = seeded_engine(EngineConfig(data_dir=data_dir), self.connections)
        for host_id, (server, _driver) in self.agents.items():
            await self.connections.open(host_id, LOOPBACK, server.port)
        await self.ctx.start()
        self.http = api_client(self.ctx)

    async def close(self) -> None:
        await self.http.aclose()
        await self.connections.close_all()
        await self.ctx.stop()

    async def restart(self, connections: HostConnections | None = None) -> None:
        await self.close()
        await self.open(connections)

    async def stop_agents(self) -> None:
        for server, driver in self.agents.values():
            await server.stop()
            driver.close()
        self.agents.clear()

    # --- hosts and VMs, put straight into the database ------------------------------------------

    async def add_host(self, name: str = "h1", status: HostStatus = HostStatus.UP) -> str:
        host_uuid = str(uuid.uuid4())
        config = AgentConfig(
            listen_host=LOOPBACK,
            port=0,
            data_dir=self.tmp_path / f"agent-{name}",
            driver_uri="test:///default",
            enrollment_secret=SECRET,
        )
        driver = open_driver("test:///default", host_uuid=host_uuid)
        driver.open()
        server = AgentServer(config, driver, StorageOps())
        await server.start()
        await enroll_agent(LOOPBACK, server.port, SECRET, self.ca)
        host_id = str(uuid.uuid4())
        self.agents[host_id] = (server, driver)
        cluster = self.default_cluster()
        host = m.Host(
            id=host_id,
            name=name,
            address=LOOPBACK,
            port=server.port,
            status=status,
            cluster=m.Cluster(id=cluster),
        )
        with self.ctx.database.transaction() as conn:
            repos.hosts.insert(conn, host)
        await self.connections.open(host_id, LOOPBACK, server.port)
        return host_id

    def default_cluster(self) -> str:
        with self.ctx.database.read() as conn:
            return str(
                conn.execute(
                    select(tables.clusters.c.id).where(tables.clusters.c.name == "Default")
                ).scalar_one()
            )

    def default_data_center(self) -> str:
        with self.ctx.database.read() as conn:
            return str(
                conn.execute(
                    select(tables.data_centers.c.id).where(tables.data_centers.c.name == "Default")
                ).scalar_one()
            )

    def add_vm(self, name: str = "vm1", status: VmStatus = VmStatus.DOWN) -> str:
        vm = m.Vm(
            id=str(uuid.uuid4()),
            name=name,
            status=status,
            cluster=m.Cluster(id=self.default_cluster()),
        )
        with self.ctx.database.transaction() as conn:
            repos.vms.insert(conn, vm)
        assert vm.id is not None
        return vm.id

    def set_vm_status(self, vm_id: str, status: VmStatus) -> None:
        with self.ctx.database.transaction() as conn:
            vm = repos.vms.get(conn, vm_id)
            repos.vms.save(conn, vm.model_copy(update={"status": status}))

    # --- API -------------------------------------------------------------------------------------

    async def get(self, path: str) -> dict[str, Any]:
        reply = await self.http.get(API + path)
        assert reply.status_code == 200, reply.text
        data: dict[str, Any] = reply.json()
        return data

    async def post(self, path: str, body: dict[str, Any], expect: int = 201) -> dict[str, Any]:
        reply = await self.http.post(API + path, json=body)
        assert reply.status_code == expect, reply.text
        data: dict[str, Any] = reply.json()
        return data

    async def delete(self, path: str, expect: int = 200) -> httpx.Response:
        reply = await self.http.delete(API + path)
        assert reply.status_code == expect, reply.text
        return reply

    async def wait_job(self, job_id: str) -> Job:
        job = await self.ctx.runner.wait(job_id, JOB_TIMEOUT_S)
        return job

    async def wait_idle(self) -> None:
        """Wait for every job the engine started so far."""
        with self.ctx.database.read() as conn:
            ids = [row.id for row in conn.execute(select(tables.jobs.c.id))]
        for job_id in ids:
            await self.wait_job(job_id)

    async def wait_status(
        self, path: str, wanted: str, timeout: float = JOB_TIMEOUT_S
    ) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                obj = await self.get(path)
                if obj.get("status") == wanted:
                    return obj
                await asyncio.sleep(0.02)

    # --- storage ---------------------------------------------------------------------------------

    def storage_dir(self, name: str) -> Path:
        path = self.tmp_path / "storage" / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    async def add_domain(self, name: str = "data1", path: Path | None = None) -> dict[str, Any]:
        """Add a posixfs data domain on h1 and wait until it is unattached."""
        where = path or self.storage_dir(name)
        added = await self.post("/storagedomains", domain_body(name, where))
        await self.wait_idle()
        return await self.get(f"/storagedomains/{added['id']}")

    async def active_domain(self, name: str = "data1") -> dict[str, Any]:
        domain = await self.add_domain(name)
        dc = self.default_data_center()
        await self.post(f"/datacenters/{dc}/storagedomains", {"id": domain["id"]})
        await self.wait_idle()
        return await self.get(f"/datacenters/{dc}/storagedomains/{domain['id']}")

    async def add_disk(self, domain_id: str, name: str = "d1", **fields: Any) -> dict[str, Any]:
        body = {
            "name": name,
            "format": "cow",
            "provisioned_size": GIB,
            "storage_domains": {"storage_domain": [{"id": domain_id}]},
            **fields,
        }
        disk = await self.post("/disks", body)
        await self.wait_idle()
        return await self.get(f"/disks/{disk['id']}")


def domain_body(name: str, path: Path, host: str = "h1") -> dict[str, Any]:
    return {
        "name": name,
        "type": "data",
        "storage": {"type": "posixfs", "path": str(path), "vfs_type": "none"},
        "host": {"name": host},
    }


def volume_path(domain: dict[str, Any], disk: dict[str, Any]) -> Path:
    """The path convention every component relies on."""
    return Path(domain["storage"]["path"], domain["id"], "images", disk["id"], disk["image_id"])


@pytest.fixture(name="lab")
async def lab_fixture(tmp_path: Path) -> AsyncIterator[Lab]:
    setup = Lab(tmp_path)
    await setup.open()
    try:
        await setup.add_host("h1")
        yield setup
    finally:
        await setup.close()
        await setup.stop_agents()
