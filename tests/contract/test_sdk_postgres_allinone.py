"""The all-in-one on PostgreSQL, driven through ovirtsdk4 as an operator's scripts would.

``virtfleet up --database-url`` keeps every object in the PostgreSQL database it is given (the
schema created on the first start, migrated on the next) and nothing in SQLite; after the engine
process restarts, the VMs, hosts and events made before are all still there.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import ovirtsdk4 as sdk
import ovirtsdk4.types as types
import pytest
from sqlalchemy import create_engine, text

from .conftest import (
    EngineSetup,
    LiveEngine,
    engine_process,
    unique_name,
    wait_for_status,
    wait_until,
)

pytestmark = [pytest.mark.contract, pytest.mark.postgres]

HOSTS = ("local", "sim-0001")
PG_ADMIN_ENV = "VIRTFLEET_TEST_PG_ADMIN_URL"


@pytest.fixture
def setup() -> Iterator[EngineSetup]:
    """A fresh data dir and the fresh PostgreSQL database tests/conftest.py made for this test."""
    if not os.environ.get(PG_ADMIN_ENV):
        pytest.skip(f"{PG_ADMIN_ENV} is not set (run under scripts/with-postgres)")
    database_url = os.environ["VIRTFLEET_DATABASE_URL"]
    setup = EngineSetup.fresh(simulate=1, database_url=database_url)
    try:
        yield setup
    finally:
        shutil.rmtree(setup.data_dir, ignore_errors=True)


def _hosts_up(system: sdk.services.SystemService) -> dict[str, types.Host] | None:
    hosts = {h.name: h for h in system.hosts_service().list()}
    up = all(name in hosts and hosts[name].status == types.HostStatus.UP for name in HOSTS)
    return hosts if up else None


def _connect(engine: LiveEngine) -> sdk.Connection:
    connection = engine.connect()
    system = connection.system_service()
    wait_until(lambda: _hosts_up(system), 120, "both hosts up")
    return connection


def _vm_names_in_postgres(database_url: str) -> set[str]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return {row.name for row in conn.execute(text("SELECT name FROM vms"))}
    finally:
        engine.dispose()


def test_the_all_in_one_on_postgresql_keeps_its_vms_across_an_engine_restart(
    setup: EngineSetup,
) -> None:
    name = unique_name("pg-vm")
    with engine_process(setup) as engine:
        connection = _connect(engine)
        try:
            vms = connection.system_service().vms_service()
            vm = vms.add(
                types.Vm(
                    name=name,
                    cluster=types.Cluster(name="Default"),
                    template=types.Template(name="Blank"),
                    memory=256 * 2**20,
                )
            )
            service = vms.vm_service(vm.id)
            wait_for_status(service.get, types.VmStatus.DOWN, timeout=60)
            service.start()
            running = wait_for_status(service.get, types.VmStatus.UP, timeout=90)
            assert connection.follow_link(running.host).name in HOSTS
            assert [v.id for v in vms.list(search=f"name={name}")] == [vm.id]
        finally:
            connection.close()

    assert setup.database_url is not None
    assert name in _vm_names_in_postgres(setup.database_url)
    assert not (setup.data_dir / "engine" / "engine.db").exists(), "nothing goes to SQLite"

    with engine_process(setup) as engine:
        connection = _connect(engine)
        try:
            vms = connection.system_service().vms_service()
            [kept] = vms.list(search=f"name={name}")
            assert kept.id == vm.id
            assert kept.memory == 256 * 2**20
            # the simulated host restarted with the engine and lost its guest: the VM's row
            # follows the host's report, and the VM starts again
            service = vms.vm_service(vm.id)
            wait_for_status(service.get, types.VmStatus.DOWN, timeout=90)
            service.start()
            wait_for_status(service.get, types.VmStatus.UP, timeout=90)
            events = connection.system_service().events_service().list(max=500)
            starts = [e for e in events if e.description == "Starting up the virtfleet engine"]
            assert len(starts) == 2, "the first run's events are kept"
            service.stop()
            wait_for_status(service.get, types.VmStatus.DOWN, timeout=90)
        finally:
            connection.close()
