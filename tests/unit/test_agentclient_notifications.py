"""An engine that falls behind an agent's notifications skips stale stats snapshots but applies
every VM state change, in the order the agent sent them."""

from __future__ import annotations

import asyncio

from virtfleet.common import rpc
from virtfleet.common.protocol import (
    HOST_STATS_REPORT,
    VM_STATE_CHANGED,
    HostStats,
    StatsReport,
    VmRunState,
    VmState,
    Wire,
)
from virtfleet.engine.agentclient.client import AgentClient


def _stats(vms_running: int) -> StatsReport:
    host = HostStats(
        cpu_user_pct=1.0,
        cpu_system_pct=1.0,
        cpu_idle_pct=98.0,
        memory_total_bytes=1 << 30,
        memory_free_bytes=1 << 29,
        vms_total=vms_running,
        vms_running=vms_running,
        load_avg_1m=0.1,
    )
    return StatsReport(host=host, vms=[])


def _arrive(client: AgentClient, name: str, params: Wire) -> None:
    message = rpc.decode_message(rpc.encode_notification(name, params))
    assert isinstance(message, rpc.NotificationMessage)
    client._receive_notification(message)


async def test_only_the_newest_stats_snapshot_is_applied_and_every_state_change_in_order() -> None:
    seen: list[tuple[str, Wire]] = []
    done = asyncio.Event()

    async def callback(name: str, params: Wire) -> None:
        seen.append((name, params))
        if len(seen) == 3:
            done.set()

    client = AgentClient("127.0.0.1", 1, None, on_notification=callback)  # type: ignore[arg-type]
    vm = "00000000-0000-0000-0000-000000000001"
    _arrive(client, HOST_STATS_REPORT.name, _stats(1))
    _arrive(client, VM_STATE_CHANGED.name, VmState(vm_id=vm, state=VmRunState.RUNNING))
    _arrive(client, HOST_STATS_REPORT.name, _stats(2))
    _arrive(client, VM_STATE_CHANGED.name, VmState(vm_id=vm, state=VmRunState.DOWN))
    _arrive(client, HOST_STATS_REPORT.name, _stats(3))

    dispatcher = asyncio.create_task(client._dispatch_notifications(callback))
    try:
        await asyncio.wait_for(done.wait(), 5)
        await asyncio.sleep(0.05)  # nothing more may come
    finally:
        dispatcher.cancel()
    names = [name for name, _ in seen]
    assert names == [VM_STATE_CHANGED.name, VM_STATE_CHANGED.name, HOST_STATS_REPORT.name]
    states = [p.state for _, p in seen if isinstance(p, VmState)]
    assert states == [VmRunState.RUNNING, VmRunState.DOWN]
    report = seen[-1][1]
    assert isinstance(report, StatsReport) and report.host.vms_running == 3
