"""A VM lab: the host lab's engine with the VM services too, and helpers to drive VMs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from labkit import API, poll_status
from test_hosts_lab import WAIT_S, HostLab, opened

from virtfleet.common.apimodel.enums import JobStatus

GiB = 1024**3


class VmLab(HostLab):
    """Hosts with real agents on the test driver, monitored by the engine, plus VM helpers."""

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

    async def start_vm(self, vm_id: str) -> dict[str, Any]:
        """Start the VM through the API and wait until it is up; the VM as then listed."""
        await self.run_action(vm_id, "start")
        return await self.wait_vm(vm_id, "up")

    async def wait_vm(self, vm_id: str, status: str, timeout: float = WAIT_S) -> dict[str, Any]:
        return await poll_status(lambda: self.vm(vm_id), status, timeout, "VM")

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
    async with opened(VmLab(tmp_path), monkeypatch) as lab:
        yield lab


__all__ = ["API", "GiB", "VmLab", "vmlab_fixture"]
