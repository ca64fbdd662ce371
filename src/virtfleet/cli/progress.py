"""Waiting for a job or an object's status, showing its steps or status while it runs."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from rich.console import Console
from rich.markup import escape

from virtfleet.cli.client import ApiClient
from virtfleet.cli.output import make_console
from virtfleet.common import apimodel as m
from virtfleet.common.apimodel.shape import scalar_to_text
from virtfleet.common.errors import VirtfleetError

JOB_FAILED = frozenset({"failed", "aborted"})
# The kinds of object whose status an action waits for; each declares ``status``.
Followed = TypeVar("Followed", m.Vm, m.Host, m.StorageDomain)


class OperationFailed(VirtfleetError):
    reason = "Operation failed"


class WaitTimedOut(VirtfleetError):
    reason = "Timed out"


@dataclass(frozen=True)
class StatusTarget(Generic[Followed]):
    """Which object to poll (its path and model) and which statuses end the wait, well or badly."""

    model: type[Followed]
    path: str
    label: str
    targets: frozenset[str]
    failures: frozenset[str] = frozenset()
    # Statuses that only mean failure once the object has moved away from where it started
    # (a VM back at "down" after "powering_up" did not start; "down" at first is just slow).
    failures_after_change: frozenset[str] = frozenset()


@dataclass(frozen=True)
class WaitOptions:
    interval: float = 2.0
    timeout: float = 600.0


@dataclass
class _Progress:
    status: str | None = None
    initial_status: str | None = None
    changed: bool = False
    job_status: str | None = None
    steps: Sequence[m.Step] = field(default_factory=list)

    def describe(self, target: StatusTarget[Followed] | None, job_label: str) -> str:
        if target is not None:
            head = f"{target.label}: {self.status or '...'}"
        else:
            head = f"{job_label}: {self.job_status or '...'}"
        lines = [head]
        for step in self.steps:
            lines.append(f"  {_step_name(step)}: {_text(step.status)}")
        return "\n".join(lines)


def _text(value: object) -> str:
    return "" if value is None else scalar_to_text(value)


def _step_name(step: m.Step) -> str:
    return step.description or _text(step.type)


def _job_failure(job: m.Job, steps: Sequence[m.Step]) -> OperationFailed:
    failed = [_step_name(s) for s in steps if _text(s.status) in JOB_FAILED]
    what = job.description or f"job {job.id}"
    detail = f"{what} {_text(job.status)}"
    if failed:
        detail += f" at step: {', '.join(failed)}"
    return OperationFailed(detail)


def job_steps(client: ApiClient, job_id: str) -> list[m.Step]:
    """A job's steps in their order."""
    steps = client.list_as(f"jobs/{job_id}/steps", "step", m.Step)
    return sorted(steps, key=lambda s: s.number or 0)


def _poll_job(client: ApiClient, job_id: str, state: _Progress) -> None:
    job = client.get_as(f"/jobs/{job_id}", m.Job)
    state.job_status = _text(job.status)
    state.steps = job_steps(client, job_id)
    if state.job_status in JOB_FAILED:
        raise _job_failure(job, state.steps)


def _poll_target(client: ApiClient, target: StatusTarget[Followed], state: _Progress) -> Followed:
    obj = client.get_as(target.path, target.model)
    status = _text(obj.status)
    if state.initial_status is None:
        state.initial_status = status
    elif status != state.initial_status:
        state.changed = True
    state.status = status
    if status in target.failures or (state.changed and status in target.failures_after_change):
        raise OperationFailed(f"{target.label} is {status}")
    return obj


def wait_for(
    client: ApiClient,
    *,
    target: StatusTarget[Followed] | None,
    job_id: str | None,
    options: WaitOptions,
    console: Console | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Followed | None:
    """Poll until the target status (or the job's end when there is no target); raise on failure.

    Returns the object in its final state, or None when only a job was followed.
    """
    if target is None and job_id is None:
        return None
    console = console or make_console(stderr=True)
    state = _Progress()
    job_label = f"job {job_id}"
    deadline = clock() + options.timeout
    shown = ""
    with console.status("", spinner="dots") if console.is_terminal else _NoStatus() as status:
        while True:
            if job_id is not None:
                _poll_job(client, job_id, state)
            obj = _poll_target(client, target, state) if target is not None else None
            text = state.describe(target, job_label)
            if text != shown:
                shown = text
                if console.is_terminal:
                    status.update(escape(text))
                else:
                    console.print(escape(text), soft_wrap=True)
            if target is not None and state.status in target.targets:
                return obj
            if target is None and state.job_status == "finished":
                return None
            if clock() >= deadline:
                raise WaitTimedOut(
                    f"gave up after {options.timeout:g}s waiting for "
                    + (f"{target.label} (now {state.status})" if target else job_label)
                )
            sleep(options.interval)


class _NoStatus:
    """Stands in for a spinner when the console is not a terminal (progress goes out as lines)."""

    def __enter__(self) -> _NoStatus:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, text: str) -> None:
        return None
