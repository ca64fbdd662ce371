"""A host lab for the host tests: an engine with host services and monitoring on SQLite, real
in-process agents on libvirt's test driver, and an HTTP client speaking JSON."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from labkit import API, LOOPBACK, api_client, poll_status, seeded_engine

from virtfleet.agent.config import AgentConfig
from virtfleet.agent.hypervisor.base import HypervisorDriver
from virtfleet.agent.hypervisor.factory import open_driver
from virtfleet.agent.server import AgentServer
from virtfleet.agent.storage import StorageOps
from virtfleet.common.apimodel.enums import JobStatus
from virtfleet.common.apimodel.system import Event, Job
from virtfleet.engine.assembly import Engine
from virtfleet.engine.config import EngineConfig
from virtfleet.engine.core.eventlog import EventCode

SECRET = "host lab secret"
WAIT_S = 20.0


class Agent:
    """One simulated host: an AgentServer on the test driver, restartable on the same port."""

    def __init__(self, data_dir: Path, secret: str) -> None:
        self.data_dir = data_dir
        self.secret = secret
        self.host_uuid = str(uuid.uuid4())
        self.port = 0
        self.server: AgentServer | None = None
        self.driver: HypervisorDriver | None = None

    async def start(self) -> None:
        config = AgentConfig(
            listen_host=LOOPBACK,
            port=self.port,
            data_dir=self.data_dir,
            driver_uri="test:///default",
            enrollment_secret=self.secret,
            stats_interval_s=0.1,
        )
        self.driver = open_driver(
            "test:///default", host_uuid=self.host_uuid, data_dir=self.data_dir
        )
        await asyncio.to_thread(self.driver.open)
        self.server = AgentServer(config, self.driver, StorageOps())
        await self.server.start()
        self.port = self.server.port

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
            self.server = None
        if self.driver is not None:
            await asyncio.to_thread(self.driver.close)
            self.driver = None


class HostLab:
    """One engine lifetime at a time on one data dir, plus the agents it manages."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.agents: list[Agent] = []
        self.ctx: Engine | None = None
        self._http: httpx.AsyncClient | None = None

    @property
    def http(self) -> httpx.AsyncClient:
        assert self._http is not None
        return self._http

    @property
    def engine(self) -> Engine:
        assert self.ctx is not None
        return self.ctx

    async def open(self) -> None:
        (self.tmp_path / "engine").mkdir(exist_ok=True)
        config = EngineConfig(
            data_dir=self.tmp_path / "engine",
            host_heartbeat_interval_s=0.2,
            host_grace_s=1.0,
            host_stats_interval_s=0.2,
        )
        self.ctx = seeded_engine(config)
        await self.ctx.start()
        self._http = api_client(self.ctx)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        if self.ctx is not None:
            await self.ctx.stop()
            self.ctx = None

    async def restart_engine(self) -> None:
        await self.close()
        await self.open()

    async def agent(self, secret: str = SECRET) -> Agent:
        agent = Agent(self.tmp_path / f"agent-{len(self.agents)}", secret)
        self.agents.append(agent)
        await agent.start()
        return agent

    async def up_host(self, name: str) -> tuple[Agent, str]:
        """Start an agent and add it through the API; wait until the host is up."""
        agent = await self.agent()
        reply = await self.add_host(name, agent.port)
        assert reply.status_code == 201, reply.text
        host_id = str(reply.json()["id"])
        await self.wait_status(host_id, "up")
        return agent, host_id

    # --- API helpers ---------------------------------------------------------------------------

    async def add_host(self, name: str, port: int, secret: str = SECRET) -> httpx.Response:
        body = {
            "name": name,
            "address": LOOPBACK,
            "port": port,
            "root_password": secret,
            "cluster": {"name": "Default"},
        }
        return await self.http.post(f"{API}/hosts", json=body)

    async def host(self, host_id: str) -> dict[str, Any]:
        reply = await self.http.get(f"{API}/hosts/{host_id}")
        assert reply.status_code == 200, reply.text
        found: dict[str, Any] = reply.json()
        return found

    async def wait_status(
        self, host_id: str, status: str, timeout: float = WAIT_S
    ) -> dict[str, Any]:
        return await poll_status(lambda: self.host(host_id), status, timeout, "host")

    async def wait_job(self, job_id: str) -> Job:
        job = await self.engine.runner.wait(job_id, WAIT_S)
        assert job.status != JobStatus.STARTED
        return job

    async def act(
        self, host_id: str, action: str, body: dict[str, Any] | None = None
    ) -> httpx.Response:
        return await self.http.post(f"{API}/hosts/{host_id}/{action}", json=body or {})

    async def wait_event(self, host_id: str, code: int) -> Event:
        for _ in range(int(WAIT_S / 0.05)):
            found = [e for e in self.events(host_id) if e.code == code]
            if found:
                return found[0]
            await asyncio.sleep(0.05)
        raise AssertionError(f"no event {code} for host {host_id}")

    def events(self, host_id: str | None = None) -> list[Event]:
        with self.engine.database.read() as conn:
            found = self.engine.eventlog.list(conn)
        return [e for e in found if host_id is None or (e.host and e.host.id == host_id)]


_Lab = TypeVar("_Lab", bound=HostLab)


@contextlib.asynccontextmanager
async def opened(lab: _Lab, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[_Lab]:
    """The lab's engine open for the test; afterwards the engine and every agent stopped."""
    # The test driver writes one node file per host under the temp dir: keep them in tmp_path.
    monkeypatch.setattr(tempfile, "tempdir", str(lab.tmp_path))
    await lab.open()
    try:
        yield lab
    finally:
        await lab.close()
        for agent in lab.agents:
            await agent.stop()


@pytest.fixture(name="lab")
async def lab_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[HostLab]:
    async with opened(HostLab(tmp_path), monkeypatch) as lab:
        yield lab


async def added_up(lab: HostLab, name: str) -> tuple[Agent, str]:
    """Start an agent and add it through the API; wait until the host is up and installed."""
    agent, host_id = await lab.up_host(name)
    await lab.wait_event(host_id, EventCode.HOST_INSTALLED)
    return agent, host_id
