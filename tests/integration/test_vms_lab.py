"""A VM lab: the host lab's engine with the VM services too, and helpers to drive VMs."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_hosts_lab import API, WAIT_S, Agent, HostLab

from virtfleet.common.apimodel.enums import JobStatus
from virtfleet.engine.api.app import create_app
from virtfleet.engine.bootstrap import seed_defaults
from virtfleet.engine.config import EngineConfig
from virtfleet.engine.context import build_context, core_services
from virtfleet.engine.services.hosts import host_services
from virtfleet.engine.services.storage_domains import storage_services
from virtfleet.engine.services.vms import vm_services

GiB = 1024**3


class VmLab(HostLab):
    """Hosts with real agents on the test driver, monitored by the engine, plus VM helpers."""

    async def open(self) -> None:
        (self.tmp_path / "engine").mkdir(exist_ok=True)
        config = EngineConfig(
            data_dir=self.tmp_path / "engine",
            host_heartbeat_interval_s=0.2,
            host_grace_s=1.0,
            host_stats_interval_s=0.2,
        )
        self.ctx = build_context(
            config,
            service_factories=(core_services, host_services, storage_services, vm_services),
        )
        seed_defaults(self.ctx.database, self.ctx.clock)
        self.ctx.auth.ensure_admin("password")
        await self.ctx.start()
        self._http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(self.ctx)),
            base_url="http://engine",
            auth=("admin@internal", "password"),
            headers={"Accept": "application/json", "Content-Type": "application/json"},
        )

    async def up_host(self, name: str) -> tuple[Agent, str]:
        agent = await self.agent()
        reply = await self.add_host(name, agent.port)
        assert reply.status_code == 201, reply.text
        host_id = str(reply.json()["id"])
        await self.wait_status(host_id, "up")
        return agent, host_id

    async def add_vm(self, name: str, memory: int = GiB, **extra: Any) -> dict[str, Any]:
        body = {"name": name, "cluster": {"name": "Default"}, "memory": memory, **extra}
        reply = await self.http.post(f"{API}/vms", json=body)
        assert reply.status_code == 201, reply.text
        vm: dict[str, Any] = reply.json()
        return vm

    async def vm(self, vm_id: str) -> dict[str, Any]:
        reply = await self.http.get(f"{API}/vms/{vm_id}")
        assert reply.status_code == 200, reply.text
        found: dict[str, Any] = reply.json()
        return found

    async def vm_action(self, vm_id: str, action: str) -> httpx.Response:
        return await self.http.post(f"{API}/vms/{vm_id}/{action}", json={})

    async def run_action(self, vm_id: str, action: str) -> None:
        """Post the action and wait for its job to finish."""
        reply = await self.vm_action(vm_id, action)
        assert reply.status_code == 200, reply.text
        assert reply.json()["status"] == "complete"
        job = await self.wait_job(reply.json()["job"]["id"])
        assert job.status == JobStatus.FINISHED, job

    async def wait_vm(self, vm_id: str, status: str, timeout: float = WAIT_S) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            vm = await self.vm(vm_id)
            if vm.get("status") == status:
                return vm
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"VM stayed {vm.get('status')}, wanted {status}")
            await asyncio.sleep(0.05)

    def domains(self, vm_id: str) -> dict[str, str]:
        """Where the VM's domain exists, by host uuid, with its run state."""
        found = {}
        for agent in self.agents:
            if agent.driver is None:
                continue
            for state in agent.driver.list_vms():
                if state.vm_id == vm_id:
                    found[agent.host_uuid] = state.state.value
        return found


@pytest.fixture(name="vmlab")
async def vmlab_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[VmLab]:
    # The test driver writes one node file per host under the temp dir: keep them in tmp_path.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    lab = VmLab(tmp_path)
    await lab.open()
    try:
        yield lab
    finally:
        await lab.close()
        for agent in lab.agents:
            await agent.stop()


__all__ = ["API", "GiB", "VmLab", "vmlab_fixture"]
