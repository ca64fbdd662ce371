"""Every status move of a VM or a host is a compare-and-swap on its row: whichever of a command
and host monitoring moves first wins, and the other re-reads (a VM gets a host only through the
swap from ``down``, so it can never be launched on two hosts)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from virtfleet.common import apimodel as m
from virtfleet.common.apimodel.enums import HostStatus, VmStatus
from virtfleet.common.errors import Conflict
from virtfleet.engine.persistence import nextruns
from virtfleet.engine.persistence import repositories as repos

_CAS_ATTEMPTS = 5

VmChange = Callable[[m.Vm], Mapping[str, Any] | None]


def move_vm(conn: Connection, vm_id: str, change: VmChange) -> m.Vm | None:
    """Apply ``change`` (fields to set, or None to leave the VM alone) as a compare-and-swap,
    re-reading on a lost race; returns the VM as written, or None when nothing changed."""
    for _ in range(_CAS_ATTEMPTS):
        vm = repos.vms.get(conn, vm_id)
        version = repos.vms.version_of(conn, vm_id)
        update = change(vm)
        if update is None:
            return None
        moved = vm.model_copy(update=dict(update))
        changes = _next_run_changes(conn, vm, moved)
        if changes is not None:
            moved = next_run_vm(moved, changes)
        try:
            repos.vms.save(conn, moved, expected_version=version)
        except Conflict:
            continue
        if changes is not None:
            nextruns.drop(conn, vm_id)
        return moved
    raise Conflict(f"The VM {vm_id} keeps changing; try again")


def _next_run_changes(conn: Connection, before: m.Vm, after: m.Vm) -> dict[str, Any] | None:
    """The next-run changes a VM takes as it goes down (oVirt applies them then)."""
    if after.status != VmStatus.DOWN or before.status == VmStatus.DOWN:
        return None
    if not before.next_run_configuration_exists:
        return None
    return nextruns.pending(conn, before.id or "") or {}


def next_run_vm(vm: m.Vm, changes: dict[str, Any]) -> m.Vm:
    """The VM with its next-run changes as its configuration, and none pending."""
    return nextruns.with_pending(vm, changes).model_copy(
        update={"next_run_configuration_exists": False}
    )


def host_of(vm: m.Vm) -> str | None:
    return vm.host.id if vm.host is not None else None


@dataclass(frozen=True)
class StatusChange:
    """A status move that happened: the host as written and the status it left."""

    host: m.Host
    previous: HostStatus | None


def change_status(
    conn: Connection,
    host_id: str,
    allowed: Collection[HostStatus] | None,
    to: HostStatus | None,
    **updates: Any,
) -> StatusChange | None:
    """Move the host to ``to`` (None: keep its status) if its status is one of ``allowed``
    (None: any), writing ``updates`` too; None when its status is not allowed.

    Compare-and-swap on the row's version, re-read on a lost race, so a status decided from a
    stale read is never written.
    """
    for _ in range(_CAS_ATTEMPTS):
        host = repos.hosts.find(conn, host_id)
        if host is None or (allowed is not None and host.status not in allowed):
            return None
        version = repos.hosts.version_of(conn, host_id)
        moved = host.model_copy(update={"status": to or host.status, **updates})
        try:
            repos.hosts.save(conn, moved, expected_version=version)
        except Conflict:
            continue
        return StatusChange(moved, host.status)
    raise Conflict(f"The host {host_id} keeps changing; it was not updated")


def host_name(conn: Connection, host_id: str) -> str:
    """The host's name for a message; its id when the host is gone."""
    host = repos.hosts.find(conn, host_id)
    return host.name if host is not None and host.name else host_id
