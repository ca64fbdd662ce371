"""What agents report about VMs, turned into VM statuses: the ``VmStateSink`` of host monitoring.

Every move is a compare-and-swap on the VM's row and only the host the VM is placed on may move
it: a report from any other host is logged and ignored, so a VM never runs on two hosts in the
engine's view. Starts and user actions are the commands' business; this module follows reality.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, select

from virtfleet.common import apimodel as m
from virtfleet.common.apimodel.enums import LogSeverity, VmStatus
from virtfleet.common.clock import Clock
from virtfleet.common.protocol import VmRunState, VmState, VmStats
from virtfleet.engine.core.eventlog import EventCode, EventLog
from virtfleet.engine.core.statuses import HOLDING_VM_STATUSES
from virtfleet.engine.core.transitions import host_name, host_of, move_vm
from virtfleet.engine.monitoring.batchwriter import BatchWriter
from virtfleet.engine.persistence import repositories as repos
from virtfleet.engine.persistence import tables

log = logging.getLogger(__name__)

R = TypeVar("R")

# Statuses whose VM a command is still placing: its domain may not exist on the host yet.
_LAUNCHING = frozenset({VmStatus.WAIT_FOR_LAUNCH, VmStatus.RESTORING_STATE})
_STARTING = _LAUNCHING | {VmStatus.POWERING_UP}
_RUNNING_AGAIN_FROM = _STARTING | {
    VmStatus.UP,
    VmStatus.REBOOT_IN_PROGRESS,
    VmStatus.PAUSED,
    VmStatus.UNKNOWN,
    VmStatus.NOT_RESPONDING,
    VmStatus.MIGRATING,
}


def next_status(current: VmStatus | None, reported: VmRunState) -> VmStatus | None:
    """The status a report moves a VM to, or None when it should stay as it is.

    A user operation in flight keeps its transitional status: a shutting-down VM still reported
    running stays ``powering_down``; a VM saving its state stays ``saving_state`` until saved.
    """
    current = current or VmStatus.DOWN
    target: VmStatus | None
    if reported == VmRunState.RUNNING:
        target = VmStatus.UP if current in _RUNNING_AGAIN_FROM else None
    elif reported == VmRunState.PAUSED:
        target = None if current in (VmStatus.SAVING_STATE, VmStatus.DOWN) else VmStatus.PAUSED
    elif reported == VmRunState.SHUTTING_DOWN:
        target = VmStatus.POWERING_DOWN if current in HOLDING_VM_STATUSES else None
    elif reported in (VmRunState.DOWN, VmRunState.CRASHED):
        target = None if current in _LAUNCHING | {VmStatus.IMAGE_LOCKED} else VmStatus.DOWN
    elif reported == VmRunState.SUSPENDED:
        target = VmStatus.SUSPENDED if current != VmStatus.DOWN else None
    elif reported == VmRunState.MIGRATING:
        target = VmStatus.MIGRATING if current in HOLDING_VM_STATUSES else None
    else:
        target = None
    return None if target == current else target


@dataclass(frozen=True)
class StatsSample:
    host_id: str
    stats: VmStats
    time: datetime


class VmStateTracker:
    """The engine's ``VmStateSink``: moves VM statuses and keeps the latest VM statistics."""

    def __init__(self, writer: BatchWriter, clock: Clock, eventlog: EventLog) -> None:
        self.writer = writer
        self.clock = clock
        self.eventlog = eventlog
        self._stats: dict[str, StatsSample] = {}
        self._stats_lock = threading.Lock()

    # --- VmStateSink ------------------------------------------------------------------------------

    async def on_vm_state(self, host_id: str, state: VmState) -> None:
        await self._db(lambda conn: self._apply(conn, host_id, state))

    async def on_vm_stats(self, host_id: str, stats: list[VmStats]) -> None:
        now = self.clock.now()
        with self._stats_lock:
            for item in stats:
                self._stats[item.vm_id] = StatsSample(host_id, item, now)
        running = [
            VmState(vm_id=item.vm_id, state=VmRunState.RUNNING, reason="reporting statistics")
            for item in stats
        ]
        await self._db(lambda conn: self._confirm_started(conn, host_id, running))

    async def on_vm_list(self, host_id: str, states: list[VmState]) -> None:
        await self._db(lambda conn: self._reconcile(conn, host_id, states))

    async def on_host_lost(self, host_id: str) -> None:
        await self._db(lambda conn: self._host_lost(conn, host_id))

    # --- statistics -------------------------------------------------------------------------------

    def latest_stats(self, vm_id: str) -> VmStats | None:
        with self._stats_lock:
            sample = self._stats.get(vm_id)
        return None if sample is None else sample.stats

    # --- the moves --------------------------------------------------------------------------------

    def _apply(self, conn: Connection, host_id: str, state: VmState) -> None:
        vm = repos.vms.find(conn, state.vm_id)
        if vm is None:
            log.debug("report about an unknown domain ignored host=%s vm=%s", host_id, state.vm_id)
            return
        if host_of(vm) != host_id:
            log.warning(
                "report from a host the VM is not placed on ignored vm=%s host=%s placed_on=%s "
                "state=%s",
                vm.name,
                host_id,
                host_of(vm),
                state.state.value,
            )
            return
        previous: list[VmStatus | None] = []

        def change(current: m.Vm) -> Mapping[str, Any] | None:
            if host_of(current) != host_id:
                return None
            target = next_status(current.status, state.state)
            if target is None:
                return None
            previous[:] = [current.status]
            return self._fields_for(current, target, state)

        moved = move_vm(conn, state.vm_id, change)
        if moved is not None:
            self._record(conn, moved, previous[0], state, host_id)

    def _fields_for(self, vm: m.Vm, target: VmStatus, state: VmState) -> dict[str, Any]:
        fields: dict[str, Any] = {"status": target}
        if target == VmStatus.DOWN:
            reason = state.reason or ("crashed" if state.state == VmRunState.CRASHED else "")
            fields.update(host=None, stop_time=self.clock.now(), stop_reason=reason or None)
        elif target == VmStatus.UP and vm.start_time is None:
            fields["start_time"] = self.clock.now()
        return fields

    def _record(
        self,
        conn: Connection,
        vm: m.Vm,
        previous: VmStatus | None,
        state: VmState,
        host_id: str,
    ) -> None:
        log.info(
            "vm status moved vm=%s from=%s to=%s host=%s",
            vm.name,
            previous,
            vm.status,
            host_id,
        )
        if vm.status != VmStatus.DOWN:
            return
        if state.state == VmRunState.CRASHED:
            code, severity = EventCode.VM_CRASHED, LogSeverity.ERROR
            text = f"VM {vm.name} is down with error. Exit message: {state.reason or 'crashed'}."
        else:
            code, severity = EventCode.VM_DOWN, LogSeverity.NORMAL
            text = f"VM {vm.name} is down. Exit message: {state.reason or 'stopped'}."
        self._event(conn, code, severity, text, vm, host_id)

    def _event(
        self,
        conn: Connection,
        code: int,
        severity: LogSeverity,
        text: str,
        vm: m.Vm,
        host_id: str,
    ) -> None:
        self.eventlog.record(
            conn,
            code=code,
            severity=severity,
            description=text,
            vm_id=vm.id,
            host_id=host_id,
            cluster_id=vm.cluster.id if vm.cluster else None,
        )

    def _confirm_started(self, conn: Connection, host_id: str, running: list[VmState]) -> None:
        """Statistics from a host prove its VMs run: a VM still powering up there is up.

        Only the host's VMs that are still starting are read (every report lists every VM the
        host runs, so reading each of those would cost the whole fleet every stats interval).
        """
        starting = conn.execute(
            select(tables.vms.c.id).where(
                (tables.vms.c.host_id == host_id)
                & tables.vms.c.status.in_([status.value for status in _STARTING])
            )
        ).scalars()
        reported = {state.vm_id: state for state in running}
        for vm_id in starting:
            if vm_id in reported:
                self._apply(conn, host_id, reported[vm_id])

    def _reconcile(self, conn: Connection, host_id: str, states: list[VmState]) -> None:
        """Align the engine with the host's full VM list (sent when monitoring connects)."""
        listed = {state.vm_id: state for state in states}
        placed = repos.vms.query(conn, tables.vms.c.host_id == host_id)
        for vm in placed:
            assert vm.id is not None
            if vm.id in listed or vm.status in _LAUNCHING or vm.status == VmStatus.DOWN:
                continue
            gone = VmState(vm_id=vm.id, state=VmRunState.DOWN, reason="not found on its host")
            self._apply(conn, host_id, gone)
        for state in states:
            known = repos.vms.find(conn, state.vm_id)
            if known is None:
                continue
            if host_of(known) == host_id:
                self._apply(conn, host_id, state)
            elif host_of(known) is None and state.state == VmRunState.RUNNING:
                self._adopt(conn, host_id, state)
            else:
                self._placed_elsewhere(conn, host_id, known, state)

    def _placed_elsewhere(self, conn: Connection, host_id: str, vm: m.Vm, state: VmState) -> None:
        """A host lists a VM the engine placed on another host. The engine never kills a guest
        on its own guess; a second running copy is an error the administrator must see."""
        log.warning(
            "host lists a VM placed elsewhere; left alone vm=%s host=%s placed_on=%s state=%s",
            vm.name,
            host_id,
            host_of(vm),
            state.state.value,
        )
        if state.state not in (VmRunState.RUNNING, VmRunState.PAUSED):
            return
        here = host_name(conn, host_id)
        placed = host_name(conn, host_of(vm) or "")
        self._event(
            conn,
            EventCode.VM_RUNNING_ON_TWO_HOSTS,
            LogSeverity.ERROR,
            f"VM {vm.name} is running on Host {here} as well as on Host {placed}, where the "
            f"engine placed it. The copy on {here} was left untouched: stop one of them.",
            vm,
            host_id,
        )

    def _adopt(self, conn: Connection, host_id: str, state: VmState) -> None:
        """A VM the engine thought down runs on this host: the engine follows the host."""

        def claim(current: m.Vm) -> Mapping[str, Any] | None:
            if current.status != VmStatus.DOWN or host_of(current) is not None:
                return None
            return {
                "status": VmStatus.UP,
                "host": m.Host(id=host_id),
                "start_time": self.clock.now(),
                "stop_reason": None,
            }

        moved = move_vm(conn, state.vm_id, claim)
        if moved is not None:
            self._event(
                conn,
                EventCode.VM_STARTED,
                LogSeverity.WARNING,
                f"VM {moved.name} was found running on Host {host_name(conn, host_id)}; "
                "it is up there now.",
                moved,
                host_id,
            )

    def _host_lost(self, conn: Connection, host_id: str) -> None:
        """The host stopped answering: its VMs' state is unknown until it answers or is fenced."""
        for vm in repos.vms.query(conn, tables.vms.c.host_id == host_id):
            assert vm.id is not None

            def unknown(current: m.Vm) -> Mapping[str, Any] | None:
                if host_of(current) != host_id or current.status not in HOLDING_VM_STATUSES:
                    return None
                if current.status == VmStatus.UNKNOWN:
                    return None
                return {"status": VmStatus.UNKNOWN}

            moved = move_vm(conn, vm.id, unknown)
            if moved is not None:
                self._event(
                    conn,
                    EventCode.VM_NOT_RESPONDING,
                    LogSeverity.WARNING,
                    f"VM {moved.name}'s host is not responding; the VM's status is unknown.",
                    moved,
                    host_id,
                )

    async def _db(self, fn: Callable[[Connection], R]) -> R:
        return await self.writer.run(fn)
