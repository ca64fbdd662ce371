"""A host whose libvirtd is stopped cannot be added: the install fails with a reason naming
libvirt and nothing of the host is left half-registered; once libvirtd runs, re-installing the
host brings it up."""

from __future__ import annotations

from support.e2e import lab_fixtures, requires
from virtfleet.engine.core.eventlog import EventCode
from virtfleet.testbed.daemons import start_libvirtd_again, stop_libvirtd
from virtfleet.testbed.lab import (
    ENROLL_SECRET,
    HOST_UP_S,
    JOB_S,
    LAB_TOOLS,
    Lab,
    add_host,
)

pytestmark = requires(*LAB_TOOLS)


bed_fixture, lab_fixture = lab_fixtures(1, prefix="vfh", subnet="10.82.0.0/24")


async def test_a_host_with_a_stopped_libvirtd_fails_its_install_until_libvirtd_runs(
    lab: Lab,
) -> None:
    plan = lab.bed.plan.hosts[0]
    stop_libvirtd(plan)
    host_id = await add_host(lab, lab.bed.hosts[0])
    path = f"/hosts/{host_id}"
    failed = await lab.api.wait_status(path, "install_failed", JOB_S)
    assert "libvirt" in failed["status_detail"]
    with lab.ctx.database.read() as conn:
        events = lab.ctx.eventlog.list(conn)
    reasons = [
        e.description or ""
        for e in events
        if e.code == EventCode.HOST_INSTALL_FAILED and e.host is not None and e.host.id == host_id
    ]
    assert reasons and "libvirt" in reasons[0]
    assert (await lab.api.get(path)).get("cpu") is None, "capabilities of a failed install"

    start_libvirtd_again(plan)
    await lab.api.post(f"{path}/install", {"root_password": ENROLL_SECRET}, expect=200)
    await lab.api.wait_status(path, "up", HOST_UP_S)
