"""Rows of commands, their locks, jobs and steps: the queries the runner and the API need."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from virtfleet.common.apimodel.enums import JobStatus, StepEnum, StepStatus
from virtfleet.common.apimodel.system import Job, Step, User
from virtfleet.common.errors import Conflict, NotFound
from virtfleet.engine.persistence.documents import DocumentRepository, attr, ref_id
from virtfleet.engine.persistence.tables import commands, jobs, locks, steps

# Command states. Live ones hold their locks and are picked up again after a restart:
# "running" goes on (or is rolled back), "failing"/"aborting" finish undoing completed steps.
RUNNING = "running"
FAILING = "failing"
ABORTING = "aborting"
FINISHED = "finished"
FAILED = "failed"
ABORTED = "aborted"
LIVE_STATES = (RUNNING, FAILING, ABORTING)

JOBS = DocumentRepository(
    jobs, Job, {"start_time": attr("start_time"), "end_time": attr("end_time")}, what="job"
)
STEPS = DocumentRepository(
    steps, Step, {"job_id": ref_id("job"), "number": attr("number")}, what="step"
)


@dataclass(frozen=True)
class CommandRecord:
    id: str
    kind: str
    job_id: str
    state: str
    next_step: int
    params: dict[str, Any]
    data: dict[str, Any]
    error: str | None
    correlation_id: str | None


# --- reads for the API ---------------------------------------------------------------------------


def list_jobs(
    conn: Connection,
    *,
    limit: int | None = None,
    offset: int = 0,
    where: ColumnElement[bool] | None = None,
    order_by: Sequence[ColumnElement[Any]] = (),
) -> list[Job]:
    """Jobs in ``order_by``, then newest first."""
    order = (*order_by, jobs.c.start_time.desc(), jobs.c.created_at.desc())
    return JOBS.query(conn, where, order_by=order, limit=limit, offset=offset)


def get_job(conn: Connection, job_id: str) -> Job:
    return JOBS.get(conn, job_id)


def list_steps(conn: Connection, job_id: str) -> list[Step]:
    """The steps of a job in the order they started; NotFound if the job does not exist."""
    JOBS.version_of(conn, job_id)
    return STEPS.query(conn, steps.c.job_id == job_id, order_by=(steps.c.number,))


def get_step(conn: Connection, job_id: str, step_id: str) -> Step:
    step = STEPS.find(conn, step_id)
    if step is None or step.job is None or step.job.id != job_id:
        raise NotFound(f"The step with id '{step_id}' does not exist in job '{job_id}'")
    return step


def job_error(conn: Connection, job_id: str) -> str | None:
    """Why a job failed (the API model of a job has no field for it)."""
    row = conn.execute(select(commands.c.error).where(commands.c.job_id == job_id)).first()
    return None if row is None else row.error


# --- commands ------------------------------------------------------------------------------------


class Locked(Conflict):
    """Another live command holds one of the objects a new command needs."""


def create_command(
    conn: Connection,
    *,
    command_id: str,
    job_id: str,
    kind: str,
    params: Mapping[str, Any],
    description: str,
    held: Sequence[tuple[str, str]],
    correlation_id: str | None,
    user_id: str | None,
    now: datetime,
    precheck: Callable[[Connection], None] | None = None,
) -> None:
    """Insert the job, the command and its locks; Locked (and nothing written) if one is held.

    ``precheck`` runs after the locks are known to be free, in the same transaction, so a
    command is validated against the state no other command can change under it.
    """
    wanted = dict(held)
    check_locks(conn, wanted)
    if precheck is not None:
        precheck(conn)
    owner = None if user_id is None else User(id=user_id)
    job = Job(
        id=job_id,
        description=description,
        status=JobStatus.STARTED,
        start_time=now,
        last_updated=now,
        external=False,
        auto_cleared=True,
        owner=owner,
    )
    JOBS.insert(conn, job)
    conn.execute(
        insert(commands).values(
            id=command_id,
            kind=kind,
            job_id=job_id,
            state=RUNNING,
            next_step=0,
            params=dict(params),
            data={},
            error=None,
            correlation_id=correlation_id,
            created_at=now,
            updated_at=now,
        )
    )
    if not wanted:
        return
    rows = [{"object_id": o, "command_id": command_id, "reason": r} for o, r in wanted.items()]
    try:
        with conn.begin_nested():
            conn.execute(insert(locks), rows)
    except IntegrityError:
        # Another command took one of the objects between our check and our insert.
        raise Locked(f"Object {', '.join(wanted)} is locked by another operation") from None


def check_locks(conn: Connection, wanted: Mapping[str, str]) -> None:
    """Raise Conflict if a live command holds one of the objects; drop locks of dead ones."""
    if not wanted:
        return
    statement = (
        select(locks.c.object_id, commands.c.state, jobs.c.doc)
        .join(commands, commands.c.id == locks.c.command_id)
        .outerjoin(jobs, jobs.c.id == commands.c.job_id)
        .where(locks.c.object_id.in_(list(wanted)))
    )
    stale = []
    for row in conn.execute(statement):
        if row.state in LIVE_STATES:
            holder = (row.doc or {}).get("description") or "another operation"
            raise Locked(f"Object {row.object_id} is locked by {holder}")
        stale.append(row.object_id)
    if stale:
        conn.execute(delete(locks).where(locks.c.object_id.in_(stale)))


def load_command(conn: Connection, command_id: str) -> CommandRecord:
    row = conn.execute(select(commands).where(commands.c.id == command_id)).first()
    if row is None:
        raise NotFound(f"The command with id '{command_id}' does not exist")
    return _record(row)


def live_commands(conn: Connection) -> list[CommandRecord]:
    statement = (
        select(commands).where(commands.c.state.in_(LIVE_STATES)).order_by(commands.c.created_at)
    )
    return [_record(row) for row in conn.execute(statement)]


def update_command(conn: Connection, command_id: str, *, now: datetime, **values: Any) -> None:
    conn.execute(
        update(commands).where(commands.c.id == command_id).values(updated_at=now, **values)
    )


def release_locks(conn: Connection, command_id: str) -> None:
    conn.execute(delete(locks).where(locks.c.command_id == command_id))


def release_dead_locks(conn: Connection) -> int:
    """Drop the locks of every command that is no longer live; returns how many."""
    live = select(commands.c.id).where(commands.c.state.in_(LIVE_STATES))
    result = conn.execute(delete(locks).where(locks.c.command_id.not_in(live)))
    return int(result.rowcount or 0)


def held_locks(conn: Connection, command_id: str) -> list[str]:
    statement = select(locks.c.object_id).where(locks.c.command_id == command_id)
    return [row.object_id for row in conn.execute(statement)]


def _record(row: Any) -> CommandRecord:
    return CommandRecord(
        id=row.id,
        kind=row.kind,
        job_id=row.job_id,
        state=row.state,
        next_step=row.next_step,
        params=dict(row.params),
        data=dict(row.data),
        error=row.error,
        correlation_id=row.correlation_id,
    )


# --- jobs and steps ------------------------------------------------------------------------------


def step_id(job_id: str, number: int) -> str:
    """Step ids are derived from the job and the number, so re-running a step reuses its row."""
    return str(uuid.uuid5(uuid.UUID(job_id), str(number)))


def start_step(
    conn: Connection,
    job_id: str,
    number: int,
    *,
    description: str,
    type: StepEnum,
    now: datetime,
) -> None:
    step = Step(
        id=step_id(job_id, number),
        description=description,
        type=type,
        number=number,
        status=StepStatus.STARTED,
        start_time=now,
        external=False,
        job=Job(id=job_id),
    )
    if not step_started(conn, job_id, number):
        STEPS.insert(conn, step)
    else:
        STEPS.save(conn, step)
    touch_job(conn, job_id, now=now)


def step_started(conn: Connection, job_id: str, number: int) -> bool:
    step = step_id(job_id, number)
    return conn.execute(select(steps.c.id).where(steps.c.id == step)).first() is not None


def end_step(
    conn: Connection, job_id: str, number: int, *, status: StepStatus, now: datetime
) -> None:
    step = STEPS.find(conn, step_id(job_id, number))
    if step is None:
        return
    step.status = status
    step.end_time = now
    STEPS.save(conn, step)


def abort_open_steps(conn: Connection, job_id: str, *, now: datetime) -> None:
    """Mark the steps still shown as started as aborted (their run was interrupted)."""
    for step in STEPS.query(conn, steps.c.job_id == job_id):
        if step.status == StepStatus.STARTED:
            step.status = StepStatus.ABORTED
            step.end_time = now
            STEPS.save(conn, step)


def touch_job(conn: Connection, job_id: str, *, now: datetime) -> None:
    job = JOBS.find(conn, job_id)
    if job is not None:
        job.last_updated = now
        JOBS.save(conn, job)


def end_job(conn: Connection, job_id: str, *, status: JobStatus, now: datetime) -> Job | None:
    """Give the job its final status; None if it was cleared meanwhile."""
    job = JOBS.find(conn, job_id)
    if job is None:
        return None
    job.status = status
    job.end_time = now
    job.last_updated = now
    JOBS.save(conn, job)
    return job
