"""Hosts through the API against real agents: enrollment, failures, maintenance and removal."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from test_hosts_lab import API, SECRET, HostLab, added_up, lab_fixture  # noqa: F401

from support.ports import free_port
from virtfleet.common.apimodel.enums import JobStatus
from virtfleet.engine.commands import store
from virtfleet.engine.core.eventlog import EventCode
from virtfleet.engine.persistence import repositories as repos
from virtfleet.engine.persistence import tables

STAT_NAMES = {
    "memory.total",
    "memory.used",
    "memory.free",
    "cpu.current.user",
    "cpu.current.system",
    "cpu.current.idle",
    "cpu.load.avg.5m",
    "boot.time",
}
# KSM's CPU share is a rate between two of the host's reports: the first report has none.
RATE_NAMES = {"ksm.cpu.current"}


async def test_added_hosts_are_installing_then_up_with_capabilities(lab: HostLab) -> None:
    first, second = await lab.agent(), await lab.agent()
    replies = [await lab.add_host("h1", first.port), await lab.add_host("h2", second.port)]
    for reply in replies:
        assert reply.status_code == 201, reply.text
        assert reply.json()["status"] == "installing"
        assert "root_password" not in reply.json()
    for reply, agent in zip(replies, (first, second), strict=True):
        host = await lab.wait_status(reply.json()["id"], "up")
        assert host["hardware_information"]["uuid"] == agent.host_uuid
        assert host["memory"] > 0
        assert host["cpu"]["topology"]["cores"] >= 1
        assert host["libvirt_version"]["full_version"]
        assert host["version"]["full_version"]
        assert host["os"]["type"] == "Linux"


async def test_the_enrollment_secret_is_not_stored_in_the_host(lab: HostLab) -> None:
    _agent, host_id = await added_up(lab, "h1")
    with lab.engine.database.read() as conn:
        stored = repos.hosts.get(conn, host_id)
    assert stored.root_password is None
    assert SECRET not in stored.model_dump_json()


async def test_the_enrollment_secret_is_erased_from_the_finished_command(lab: HostLab) -> None:
    await added_up(lab, "h1")
    jobs = (await lab.http.get(f"{API}/jobs")).json()["job"]
    for job in jobs:
        await lab.wait_job(job["id"])
    with lab.engine.database.read() as conn:
        params = [row.params for row in conn.execute(select(tables.commands.c.params))]
    assert params and all(SECRET not in json.dumps(p) for p in params)


async def test_statistics_are_listed_under_ovirt_names(lab: HostLab) -> None:
    _agent, host_id = await added_up(lab, "h1")
    stats: list[dict[str, Any]] = []
    for _ in range(100):
        reply = await lab.http.get(f"{API}/hosts/{host_id}/statistics")
        assert reply.status_code == 200, reply.text
        stats = reply.json().get("statistic", [])
        if stats:
            break
        await asyncio.sleep(0.05)
    by_name = {s["name"]: s for s in stats}
    assert STAT_NAMES <= set(by_name) <= STAT_NAMES | RATE_NAMES
    total = by_name["memory.total"]
    assert total["kind"] == "gauge" and total["unit"] == "bytes" and total["type"] == "integer"
    assert total["values"]["value"][0]["datum"] > 0
    assert by_name["cpu.current.idle"]["unit"] == "percent"


async def test_a_wrong_secret_fails_the_install(lab: HostLab) -> None:
    agent = await lab.agent()
    reply = await lab.add_host("h1", agent.port, secret="not the secret")
    host_id = reply.json()["id"]
    host = await lab.wait_status(host_id, "install_failed")
    assert "wrong enrollment secret" in host["status_detail"]
    # the job's failure event follows the status change once the command has ended
    failure = await lab.wait_event(host_id, EventCode.HOST_INSTALL_FAILED)
    assert "wrong enrollment secret" in (failure.description or "")


async def test_nothing_listening_fails_the_install_with_connection_refused(lab: HostLab) -> None:
    port = free_port()
    reply = await lab.add_host("h1", port)
    host_id = reply.json()["id"]
    await lab.wait_status(host_id, "install_failed")
    failure = await lab.wait_event(host_id, EventCode.HOST_INSTALL_FAILED)
    assert f"Connection refused to 127.0.0.1:{port}" in (failure.description or "")


async def test_a_duplicate_name_is_refused_and_nothing_is_inserted(lab: HostLab) -> None:
    agent = await lab.agent()
    assert (await lab.add_host("h1", agent.port)).status_code == 201
    reply = await lab.add_host("h1", agent.port)
    assert reply.status_code == 409, reply.text
    with lab.engine.database.read() as conn:
        assert repos.hosts.count(conn) == 1


async def test_the_same_machine_cannot_be_added_twice(lab: HostLab) -> None:
    agent, _host_id = await added_up(lab, "h1")
    reply = await lab.add_host("h1-again", agent.port)
    host = await lab.wait_status(reply.json()["id"], "install_failed")
    assert agent.host_uuid in host["status_detail"]


async def test_deactivate_puts_the_host_in_maintenance(lab: HostLab) -> None:
    _agent, host_id = await added_up(lab, "h1")
    reply = await lab.act(host_id, "deactivate")
    assert reply.status_code == 200, reply.text
    assert (await lab.host(host_id))["status"] == "maintenance"
    await asyncio.sleep(0.1)  # the monitor drops the host soon after the reply
    assert not lab.engine.monitor.watching(host_id)
    codes = [e.code for e in lab.events(host_id)]
    assert EventCode.HOST_MAINTENANCE in codes


async def test_a_host_that_is_up_cannot_be_removed(lab: HostLab) -> None:
    _agent, host_id = await added_up(lab, "h1")
    reply = await lab.http.delete(f"{API}/hosts/{host_id}")
    assert reply.status_code == 409
    assert "Host is not in maintenance" in reply.text
    assert (await lab.host(host_id))["status"] == "up"


async def test_a_host_in_maintenance_is_removed(lab: HostLab) -> None:
    _agent, host_id = await added_up(lab, "h1")
    assert (await lab.act(host_id, "deactivate")).status_code == 200
    reply = await lab.http.delete(f"{API}/hosts/{host_id}")
    assert reply.status_code == 200, reply.text
    assert (await lab.http.get(f"{API}/hosts/{host_id}")).status_code == 404


async def test_activate_brings_a_host_back_up_from_maintenance(lab: HostLab) -> None:
    _agent, host_id = await added_up(lab, "h1")
    assert (await lab.act(host_id, "deactivate")).status_code == 200
    reply = await lab.act(host_id, "activate")
    assert reply.status_code == 200, reply.text
    job = await lab.wait_job(reply.json()["job"]["id"])
    assert job.status == JobStatus.FINISHED
    assert (await lab.host(host_id))["status"] == "up"


async def test_install_re_enrolls_a_failed_host_with_the_right_secret(lab: HostLab) -> None:
    agent = await lab.agent()
    host_id = (await lab.add_host("h1", agent.port, secret="wrong")).json()["id"]
    await lab.wait_status(host_id, "install_failed")
    reply = await lab.act(host_id, "install", {"root_password": SECRET})
    assert reply.status_code == 200, reply.text
    await lab.wait_status(host_id, "up")


async def _hold_lock(lab: HostLab, object_id: str) -> str:
    """A live command holding ``object_id``, as one that has just published its result does
    (taken once the command that published the host's status has let go of it)."""
    command_id = str(uuid.uuid4())

    def hold() -> None:
        with lab.engine.database.transaction() as conn:
            store.create_command(
                conn,
                command_id=command_id,
                job_id=str(uuid.uuid4()),
                kind="test.holder",
                params={},
                description="Finishing up",
                held=[(object_id, "host")],
                correlation_id=None,
                user_id=None,
                now=datetime.now(UTC),
            )

    await asyncio.to_thread(lab.engine.runner.when_unlocked, hold)
    return command_id


def _finish(lab: HostLab, command_id: str) -> None:
    with lab.engine.database.transaction() as conn:
        store.update_command(conn, command_id, now=datetime.now(UTC), state=store.FINISHED)
        store.release_locks(conn, command_id)


async def test_an_action_waits_briefly_for_a_command_that_is_ending(lab: HostLab) -> None:
    agent = await lab.agent()
    host_id = (await lab.add_host("h1", agent.port, secret="wrong")).json()["id"]
    await lab.wait_status(host_id, "install_failed")
    holder = await _hold_lock(lab, host_id)
    asyncio.get_running_loop().call_later(0.5, _finish, lab, holder)

    reply = await lab.act(host_id, "install", {"root_password": SECRET})

    assert reply.status_code == 200, reply.text
    await lab.wait_status(host_id, "up")


async def test_an_action_on_a_host_a_command_keeps_holding_is_a_conflict(lab: HostLab) -> None:
    _agent, host_id = await added_up(lab, "h1")
    await _hold_lock(lab, host_id)

    reply = await lab.act(host_id, "deactivate")

    assert reply.status_code == 409, reply.text
    assert "locked by Finishing up" in reply.json()["detail"]
    assert (await lab.host(host_id))["status"] == "up"


async def test_a_host_whose_cpu_is_below_the_cluster_type_goes_non_operational(
    lab: HostLab,
) -> None:
    wanted = "Secure Intel Icelake Server Family"
    clusters = (await lab.http.get(f"{API}/clusters", params={"search": "name=Default"})).json()
    cluster_id = clusters["cluster"][0]["id"]
    reply = await lab.http.put(f"{API}/clusters/{cluster_id}", json={"cpu": {"type": wanted}})
    assert reply.status_code == 200, reply.text
    agent = await lab.agent()
    assert agent.driver is not None
    real = agent.driver.capabilities

    def without_icelake() -> Any:
        caps = real()
        return caps.model_copy(
            update={"cluster_cpu_types": [t for t in caps.cluster_cpu_types if t != wanted]}
        )

    agent.driver.capabilities = without_icelake  # type: ignore[method-assign]
    host_id = (await lab.add_host("old", agent.port)).json()["id"]
    host = await lab.wait_status(host_id, "non_operational")
    assert wanted in host["status_detail"]
    event = await lab.wait_event(host_id, EventCode.HOST_CPU_BELOW_CLUSTER)
    assert wanted in (event.description or "")
    assert event.severity == "warning"


async def test_a_host_that_runs_the_cluster_cpu_type_comes_up(lab: HostLab) -> None:
    clusters = (await lab.http.get(f"{API}/clusters", params={"search": "name=Default"})).json()
    cluster_id = clusters["cluster"][0]["id"]
    body = {"cpu": {"type": "Intel Nehalem Family"}}
    assert (await lab.http.put(f"{API}/clusters/{cluster_id}", json=body)).status_code == 200
    _, host_id = await lab.up_host("fits")
    assert not [e for e in lab.events(host_id) if e.code == EventCode.HOST_CPU_BELOW_CLUSTER]
