"""What a command is made of: its ordered steps, how to describe it, and how to recover it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from virtfleet.common.apimodel.enums import StepEnum
from virtfleet.engine.commands.context import CommandContext
from virtfleet.engine.core.eventlog import EventCode

StepAction = Callable[[CommandContext], Awaitable[None]]
Recovery = Literal["resume", "rollback"]


@dataclass(frozen=True)
class Step:
    """One phase of a command; ``run`` leaves its outputs in ``ctx.data``.

    Steps must be idempotent: after an engine restart the step that was running is run again,
    so running it twice must be harmless (check before creating, tolerate "already done").
    ``undo`` reverses a completed ``run`` and must itself tolerate running twice, or after a
    ``run`` that did only part of its work (an interrupted step is undone on rollback).
    A ``run`` that raises cleans up its own partial work; only completed steps are undone.
    """

    name: str
    description: str
    run: StepAction
    undo: StepAction | None = None
    type: StepEnum = StepEnum.EXECUTING


def _no_refs(_params: Mapping[str, Any], _data: Mapping[str, Any]) -> Mapping[str, str]:
    return {}


@dataclass(frozen=True)
class CommandDefinition:
    """A kind of command: its steps and what happens to it when the engine restarts mid-way.

    ``refs`` names the objects its events concern (``{"vm_id": ...}``); ``describe_done``
    words the success event (default: the job description followed by "finished").
    """

    kind: str
    describe: Callable[[Mapping[str, Any]], str]
    steps: Sequence[Step]
    recovery: Recovery = "resume"
    refs: Callable[[Mapping[str, Any], Mapping[str, Any]], Mapping[str, str]] = _no_refs
    describe_done: Callable[[Mapping[str, Any], Mapping[str, Any]], str] | None = None
    success_code: int = EventCode.JOB_FINISHED
    failure_code: int = EventCode.JOB_FAILED
    # params that must not outlive the command (an enrollment secret): erased when it ends
    secret_params: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        names = [step.name for step in self.steps]
        if not names:
            raise ValueError(f"command {self.kind!r} has no steps")
        if len(set(names)) != len(names):
            raise ValueError(f"command {self.kind!r} has two steps with the same name")
