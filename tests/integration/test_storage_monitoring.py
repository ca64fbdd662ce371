"""Storage domains monitored by their data center's hosts: space and disk sizes follow what the
hosts measure, a domain no host can reach goes inactive with an event and comes back after."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select
from test_storage_lab import Lab, lab_fixture, volume_path  # noqa: F401

from virtfleet.common.apimodel.enums import HostStatus
from virtfleet.engine.core.eventlog import EventCode
from virtfleet.engine.persistence import tables

pytestmark = pytest.mark.skipif(shutil.which("qemu-img") is None, reason="qemu-img missing")

MiB = 1024**2


def _events(lab: Lab, code: int) -> list[str]:
    with lab.ctx.database.read() as conn:
        rows = conn.execute(select(tables.events.c.description).where(tables.events.c.code == code))
        return [row.description for row in rows]


async def test_a_check_refreshes_the_domains_space_and_its_disks_actual_size(lab: Lab) -> None:
    domain = await lab.active_domain()
    disk = await lab.add_disk(domain["id"], format="raw", sparse=True)
    volume = volume_path(domain, disk)
    with volume.open("r+b") as data:
        data.write(os.urandom(3 * MiB))
        os.fsync(data.fileno())
    allocated = volume.stat().st_blocks * 512
    assert int(disk["actual_size"]) != allocated

    (probe,) = await lab.ctx.storage_monitor.check()

    assert probe.usage is not None and not probe.failures
    refreshed = await lab.get(f"/disks/{disk['id']}")
    assert int(refreshed["actual_size"]) == allocated >= 3 * MiB
    stats = os.statvfs(Path(domain["storage"]["path"]))
    listed = await lab.get(f"/storagedomains/{domain['id']}")
    free = stats.f_bavail * stats.f_frsize
    # the file system moves between the two reads; the engine's figure is the host's reading
    assert abs(int(listed["available"]) - free) < 64 * MiB
    assert int(listed["used"]) > 0


async def test_a_domain_no_host_reaches_goes_inactive_and_comes_back(lab: Lab) -> None:
    await lab.add_host("h2")
    domain = await lab.active_domain()
    path = Path(domain["storage"]["path"]) / domain["id"]
    hidden = path.with_name(path.name + ".away")
    dc = lab.default_data_center()
    path.rename(hidden)

    (probe,) = await lab.ctx.storage_monitor.check()
    await lab.ctx.storage_monitor.check()  # a second round changes nothing more

    assert probe.usage is None and set(probe.failures) == {"h1", "h2"}
    attached = await lab.get(f"/datacenters/{dc}/storagedomains/{domain['id']}")
    assert attached["status"] == "inactive"
    assert (await lab.get(f"/datacenters/{dc}"))["status"] == "maintenance"
    (lost,) = _events(lab, EventCode.STORAGE_DOMAIN_UNREACHABLE)
    assert "data1" in lost and "h1:" in lost and "h2:" in lost

    hidden.rename(path)
    await lab.ctx.storage_monitor.check()

    attached = await lab.get(f"/datacenters/{dc}/storagedomains/{domain['id']}")
    assert attached["status"] == "active"
    assert (await lab.get(f"/datacenters/{dc}"))["status"] == "up"
    assert len(_events(lab, EventCode.STORAGE_DOMAIN_RECOVERED)) == 1


async def test_one_host_that_sees_the_domain_keeps_it_active(lab: Lab) -> None:
    domain = await lab.active_domain()
    await lab.add_host("h2")
    dc = lab.default_data_center()
    # h2's agent is gone: it cannot answer, h1 still sees the domain
    server, driver = lab.agents.popitem()[1]
    await server.stop()
    driver.close()

    (probe,) = await lab.ctx.storage_monitor.check()

    assert probe.usage is not None and set(probe.failures) == {"h2"}
    attached = await lab.get(f"/datacenters/{dc}/storagedomains/{domain['id']}")
    assert attached["status"] == "active"
    assert not _events(lab, EventCode.STORAGE_DOMAIN_UNREACHABLE)


async def test_with_no_host_up_nobody_judges_the_domain(lab: Lab) -> None:
    domain = await lab.active_domain()
    await lab.add_host("h2", status=HostStatus.MAINTENANCE)
    with lab.ctx.database.transaction() as conn:
        conn.execute(
            tables.hosts.update()
            .where(tables.hosts.c.name == "h1")
            .values(status=HostStatus.MAINTENANCE.value)
        )
    shutil.rmtree(Path(domain["storage"]["path"]) / domain["id"])

    (probe,) = await lab.ctx.storage_monitor.check()

    assert probe.usage is None and not probe.failures
    dc = lab.default_data_center()
    attached = await lab.get(f"/datacenters/{dc}/storagedomains/{domain['id']}")
    assert attached["status"] == "active"
