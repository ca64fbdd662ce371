"""Job and step queries the API's /jobs and /jobs/{id}/steps services use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from virtfleet.common.apimodel.enums import JobStatus, StepEnum, StepStatus
from virtfleet.common.errors import Conflict, NotFound
from virtfleet.engine.commands import store
from virtfleet.engine.persistence.database import Database

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _job(
    database: Database, job_id: str, minutes: int, held: list[tuple[str, str]] | None = None
) -> None:
    with database.transaction() as conn:
        store.create_command(
            conn,
            command_id=f"cmd-{job_id}",
            job_id=job_id,
            kind="k",
            params={},
            description=f"Job {job_id}",
            held=held or [],
            correlation_id=None,
            user_id=None,
            now=T0 + timedelta(minutes=minutes),
        )


def _ids(n: int) -> list[str]:
    return [f"00000000-0000-4000-8000-00000000000{i}" for i in range(n)]


def test_jobs_are_listed_newest_first_with_paging(database: Database) -> None:
    a, b, c = _ids(3)
    _job(database, b, 2)
    _job(database, a, 1)
    _job(database, c, 3)

    with database.read() as conn:
        everything = store.list_jobs(conn)
        page = store.list_jobs(conn, limit=1, offset=1)

    assert [j.id for j in everything] == [c, b, a]
    assert [j.id for j in page] == [b]
    assert everything[0].status == JobStatus.STARTED
    assert everything[0].start_time == T0 + timedelta(minutes=3)


def test_steps_are_listed_by_number_and_belong_to_their_job(database: Database) -> None:
    a, b = _ids(2)
    _job(database, a, 1)
    _job(database, b, 2)
    with database.transaction() as conn:
        for number in (1, 0):
            store.start_step(
                conn, a, number, description=f"step {number}", type=StepEnum.EXECUTING, now=T0
            )
        store.end_step(conn, a, 0, status=StepStatus.FINISHED, now=T0)

    with database.read() as conn:
        steps = store.list_steps(conn, a)
        first = store.get_step(conn, a, steps[0].id or "")
        assert store.list_steps(conn, b) == []
        with pytest.raises(NotFound):
            store.get_step(conn, b, steps[0].id or "")
        with pytest.raises(NotFound):
            store.list_steps(conn, "no-such-job")

    assert [(s.number, s.description, s.status) for s in steps] == [
        (0, "step 0", StepStatus.FINISHED),
        (1, "step 1", StepStatus.STARTED),
    ]
    assert first.end_time == T0


def test_starting_a_step_again_reuses_its_row(database: Database) -> None:
    (a,) = _ids(1)
    _job(database, a, 1)
    with database.transaction() as conn:
        store.start_step(conn, a, 0, description="copy", type=StepEnum.EXECUTING, now=T0)
        store.start_step(conn, a, 0, description="copy", type=StepEnum.EXECUTING, now=T0)

    with database.read() as conn:
        assert len(store.list_steps(conn, a)) == 1


def test_unknown_job_is_not_found(database: Database) -> None:
    with database.read() as conn, pytest.raises(NotFound):
        store.get_job(conn, "no-such-job")


def test_a_live_command_holds_its_locks_against_others(database: Database) -> None:
    a, b = _ids(2)
    _job(database, a, 1, held=[("vm-1", "VM is starting")])

    with pytest.raises(Conflict, match="vm-1 is locked by Job " + a):
        _job(database, b, 2, held=[("vm-1", "VM is starting")])
    with database.read() as conn:
        assert [j.id for j in store.list_jobs(conn)] == [a]
