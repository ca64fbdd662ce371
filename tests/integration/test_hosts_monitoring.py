"""Host monitoring against real agents: silence past the grace period, recovery, engine restart."""

from __future__ import annotations

import asyncio

from test_hosts_lab import API, HostLab, added_up, lab_fixture  # noqa: F401

from virtfleet.engine.core.eventlog import EventCode


async def test_a_stopped_agent_makes_its_host_non_responsive(lab: HostLab) -> None:
    agent, host_id = await added_up(lab, "h1")
    await agent.stop()
    await lab.wait_status(host_id, "non_responsive", timeout=10)
    event = await lab.wait_event(host_id, EventCode.HOST_NON_RESPONSIVE)
    assert event.description == "Host h1 is non responsive."


async def test_a_restarted_agent_brings_its_host_back_up(lab: HostLab) -> None:
    agent, host_id = await added_up(lab, "h1")
    await agent.stop()
    await lab.wait_status(host_id, "non_responsive", timeout=10)
    await agent.start()
    await lab.wait_status(host_id, "up", timeout=10)

    def responding_again() -> bool:
        back = [e for e in lab.events(host_id) if e.code == EventCode.HOST_UP]
        return any("responding again" in (e.description or "") for e in back)

    for _ in range(100):
        if responding_again():
            break
        await asyncio.sleep(0.05)
    assert responding_again()


async def test_other_hosts_stay_up_while_one_is_silent(lab: HostLab) -> None:
    silent, silent_id = await added_up(lab, "h1")
    _other, other_id = await added_up(lab, "h2")
    await silent.stop()
    await lab.wait_status(silent_id, "non_responsive", timeout=10)
    assert (await lab.host(other_id))["status"] == "up"


async def test_an_engine_restart_resumes_monitoring_and_keeps_state(lab: HostLab) -> None:
    _agent, up_id = await added_up(lab, "h1")
    _agent2, parked_id = await added_up(lab, "h2")
    assert (await lab.act(parked_id, "deactivate")).status_code == 200
    await lab.restart_engine()
    assert (await lab.host(parked_id))["status"] == "maintenance"
    assert (await lab.host(up_id))["status"] == "up"
    monitor = lab.engine.monitor
    assert monitor.watching(up_id)
    assert not monitor.watching(parked_id)
    stats = (await lab.http.get(f"{API}/hosts/{up_id}/statistics")).json()
    assert {s["name"] for s in stats["statistic"]} >= {"memory.total", "cpu.current.idle"}


async def test_a_host_silent_across_an_engine_restart_becomes_non_responsive(
    lab: HostLab,
) -> None:
    agent, host_id = await added_up(lab, "h1")
    await lab.close()
    await agent.stop()
    await lab.open()
    await lab.wait_status(host_id, "non_responsive", timeout=10)
    await agent.start()
    await lab.wait_status(host_id, "up", timeout=10)
