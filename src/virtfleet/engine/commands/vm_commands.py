"""The persisted commands behind VM actions: start (schedule, launch; with run-once options),
resume, stop, shutdown, reboot, suspend, and the creation of a new VM's inline disks.

Every status move is a compare-and-swap on the VM's row (``move_vm``): whichever of a command
and host monitoring moves first wins, and the other re-reads. A VM gets a host only through the
swap from ``down`` in ``schedule``, so it can never be launched on two hosts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection, Mapping
from typing import Any

from sqlalchemy import Connection

from virtfleet.common import apimodel as m
from virtfleet.common import protocol as p
from virtfleet.common.apimodel.enums import HostStatus, VmStatus
from virtfleet.common.errors import AgentError, Conflict, NotFound
from virtfleet.engine.commands.context import CommandContext
from virtfleet.engine.commands.definition import CommandDefinition, Step
from virtfleet.engine.commands.runonce import RunOnce, apply_run_once
from virtfleet.engine.commands.vmspec import build_spec
from virtfleet.engine.core.eventlog import EventCode
from virtfleet.engine.core.identity import ADMIN_USER
from virtfleet.engine.core.transitions import host_name, host_of, move_vm
from virtfleet.engine.persistence import initialized, tables
from virtfleet.engine.persistence import repositories as repos
from virtfleet.engine.scheduler.scheduler import Scheduler

log = logging.getLogger(__name__)

_DISK_WAIT_S = 600.0
_DISK_POLL_S = 0.2


def _vm_id(ctx: CommandContext) -> str:
    return str(ctx.params["vm_id"])


def _refs(params: Mapping[str, Any], data: Mapping[str, Any]) -> Mapping[str, str]:
    refs = {"vm_id": str(params["vm_id"])}
    if data.get("host_id"):
        refs["host_id"] = str(data["host_id"])
    return refs


def _name(data: Mapping[str, Any]) -> str:
    return str(data.get("vm_name") or "")


# --- start ---------------------------------------------------------------------------------------


def _schedule_vm(
    conn: Connection, vm_id: str, scheduler: Scheduler, params: Mapping[str, Any]
) -> dict[str, Any]:
    """Take the host the start was accepted with (re-validated), and swap the VM from down
    (or suspended) to launching on it."""
    vm = repos.vms.get(conn, vm_id)
    version = repos.vms.version_of(conn, vm_id)
    if vm.status in (VmStatus.WAIT_FOR_LAUNCH, VmStatus.RESTORING_STATE) and host_of(vm):
        # this step ran before an engine restart: keep its choice
        previous = VmStatus.SUSPENDED if vm.status == VmStatus.RESTORING_STATE else VmStatus.DOWN
        return {"host_id": host_of(vm), "previous": previous.value, "vm_name": vm.name}
    if vm.status == VmStatus.SUSPENDED:
        host_id = host_of(vm)
        host = repos.hosts.find(conn, host_id) if host_id else None
        if host_id is None or host is None or host.status != HostStatus.UP:
            raise Conflict(
                f"Cannot run VM. The host holding the saved state of VM {vm.name} is not up."
            )
        launching = VmStatus.RESTORING_STATE
    elif vm.status == VmStatus.DOWN:
        host_id = _confirmed_host(conn, vm, scheduler, params)
        launching = VmStatus.WAIT_FOR_LAUNCH
    else:
        raise Conflict(f"Cannot run VM. VM {vm.name} is {vm.status or 'unknown'}.")
    claimed = vm.model_copy(
        update={"status": launching, "host": m.Host(id=host_id), "stop_reason": None}
    )
    # the compare-and-swap on the version read above: of two concurrent starts, one loses here
    repos.vms.save(conn, claimed, expected_version=version)
    assert vm.status is not None
    return {"host_id": host_id, "previous": vm.status.value, "vm_name": vm.name}


def _confirmed_host(
    conn: Connection, vm: m.Vm, scheduler: Scheduler, params: Mapping[str, Any]
) -> str:
    """The host the API chose, if it still fits (a cheap re-check of that host alone); else a
    new placement, unless the client asked for that host (run once), which fails the start."""
    chosen = params.get("host_id")
    if chosen:
        why = scheduler.confirm(conn, vm, str(chosen))
        if why is None:
            return str(chosen)
        if params.get("host_required"):
            raise Conflict(f"Cannot run VM {vm.name} on the host it was started on: {why}")
    return scheduler.place(conn, vm).host_id


async def _schedule(ctx: CommandContext) -> None:
    vm_id = _vm_id(ctx)
    scheduler = ctx.env.scheduler
    try:
        ctx.data.update(await ctx.db(lambda conn: _schedule_vm(conn, vm_id, scheduler, ctx.params)))
    except BaseException:
        scheduler.release(vm_id)
        raise
    # committed: the VM's row now holds its memory on the host, the charge joins the base
    scheduler.settle(vm_id)


async def _unschedule(ctx: CommandContext) -> None:
    vm_id, host_id = _vm_id(ctx), ctx.data.get("host_id")
    previous = VmStatus(ctx.data.get("previous", VmStatus.DOWN.value))
    launching = {VmStatus.WAIT_FOR_LAUNCH, VmStatus.RESTORING_STATE, VmStatus.POWERING_UP}

    def back(vm: m.Vm) -> Mapping[str, Any] | None:
        if vm.status not in launching or host_of(vm) != host_id:
            return None
        if previous == VmStatus.SUSPENDED:
            return {"status": VmStatus.SUSPENDED}
        return {"status": VmStatus.DOWN, "host": None}

    await ctx.db(lambda conn: move_vm(conn, vm_id, back))
    ctx.env.scheduler.release(vm_id)


async def _launch(ctx: CommandContext) -> None:
    vm_id, host_id = _vm_id(ctx), str(ctx.data["host_id"])
    run_once = RunOnce.from_params(ctx.params)
    now = ctx.clock.now()
    spec = await ctx.read(lambda conn: apply_run_once(build_spec(conn, vm_id, now), run_once))
    wanted = p.VmRunState.PAUSED if spec.start_paused else p.VmRunState.RUNNING
    try:
        await ctx.env.connections.call(host_id, p.VM_CREATE, spec)
    except Conflict:
        # a re-run after a restart: the VM already runs there, as this step wanted
        listed = await ctx.env.connections.call(host_id, p.VM_LIST, p.Empty())
        if not any(s.vm_id == vm_id and s.state == wanted for s in listed.vms):
            raise
    now = ctx.clock.now()

    def powering_up(vm: m.Vm) -> Mapping[str, Any] | None:
        # A VM started paused is moved to paused by monitoring: its host reports it started,
        # then paused, in that order (setting it here could be undone by the first report).
        if vm.status not in (VmStatus.WAIT_FOR_LAUNCH, VmStatus.RESTORING_STATE):
            return None  # monitoring already saw it run
        return {"status": VmStatus.POWERING_UP, "start_time": now, "stop_time": None}

    def launched(conn: Connection) -> None:
        move_vm(conn, vm_id, powering_up)
        initialized.mark_run(conn, vm_id, now)  # its stored initialization is now spent

    await ctx.db(launched)


async def _unlaunch(ctx: CommandContext) -> None:
    vm_id, host_id = _vm_id(ctx), str(ctx.data["host_id"])
    with contextlib.suppress(NotFound):
        await ctx.env.connections.call(host_id, p.VM_DESTROY, p.VmRef(vm_id=vm_id))


def _describe_started(params: Mapping[str, Any], data: Mapping[str, Any]) -> str:
    return f"VM {_name(data)} started on Host {data.get('host_name') or data.get('host_id')}."


async def _name_host(ctx: CommandContext) -> None:
    host_id = str(ctx.data["host_id"])
    ctx.data["host_name"] = await ctx.read(lambda conn: host_name(conn, host_id))


# --- stop ----------------------------------------------------------------------------------------


async def _remember(ctx: CommandContext) -> m.Vm:
    vm_id = _vm_id(ctx)
    vm = await ctx.read(lambda conn: repos.vms.get(conn, vm_id))
    ctx.data["vm_name"] = vm.name
    if host_of(vm):
        ctx.data["host_id"] = host_of(vm)
    return vm


async def _power_off(ctx: CommandContext) -> None:
    vm = await _remember(ctx)
    vm_id, host_id = _vm_id(ctx), host_of(vm)
    if vm.status == VmStatus.DOWN:
        return
    if host_id is not None:
        with contextlib.suppress(NotFound):  # already gone from the host
            await ctx.env.connections.call(host_id, p.VM_DESTROY, p.VmRef(vm_id=vm_id))
    now = ctx.clock.now()

    def down(current: m.Vm) -> Mapping[str, Any] | None:
        if current.status == VmStatus.DOWN or host_of(current) != host_id:
            return None
        return {
            "status": VmStatus.DOWN,
            "host": None,
            "stop_time": now,
            "stop_reason": "powered off",
        }

    await ctx.db(lambda conn: move_vm(conn, vm_id, down))


def _describe_stopped(params: Mapping[str, Any], data: Mapping[str, Any]) -> str:
    return f"VM {_name(data)} powered off by {ADMIN_USER}."


# --- shutdown, reboot, suspend: one guest operation between two status moves --------------------


def _guest_operation(
    allowed: Collection[VmStatus],
    transitional: VmStatus,
    call: Callable[[Any, str, str], Any],
    outcome: Callable[[p.VmState], Mapping[str, Any]],
    verb: str,
) -> Callable[[CommandContext], Any]:
    """A step: swap to ``transitional``, ask the agent, then apply ``outcome`` of its answer;
    on failure the VM goes back to where it was."""

    async def run(ctx: CommandContext) -> None:
        vm = await _remember(ctx)
        vm_id, host_id = _vm_id(ctx), host_of(vm)
        if host_id is None:
            raise Conflict(f"Cannot {verb} VM. VM {vm.name} is not running on any host.")
        previous = vm.status

        def enter(current: m.Vm) -> Mapping[str, Any] | None:
            if current.status == transitional:
                return None
            if current.status not in allowed or host_of(current) != host_id:
                raise Conflict(f"Cannot {verb} VM. VM {vm.name} is {current.status}.")
            return {"status": transitional}

        await ctx.db(lambda conn: move_vm(conn, vm_id, enter))
        try:
            state = await call(ctx.env.connections, host_id, vm_id)
        except BaseException:

            def restore(current: m.Vm) -> Mapping[str, Any] | None:
                if current.status != transitional:
                    return None
                return {"status": previous}

            await asyncio.shield(ctx.db(lambda conn: move_vm(conn, vm_id, restore)))
            raise
        update = outcome(state)

        def finish(current: m.Vm) -> Mapping[str, Any] | None:
            if current.status != transitional or host_of(current) != host_id:
                return None  # monitoring got there first
            return update

        await ctx.db(lambda conn: move_vm(conn, vm_id, finish))
        if update.get("status") == VmStatus.UP and transitional == VmStatus.POWERING_DOWN:
            raise AgentError(f"The guest of VM {vm.name} did not shut down: {state.reason}")

    return run


def _after_shutdown(state: p.VmState) -> Mapping[str, Any]:
    if state.state == p.VmRunState.DOWN:
        return {"status": VmStatus.DOWN, "host": None, "stop_reason": "shut down"}
    return {"status": VmStatus.UP}


def _after_reboot(state: p.VmState) -> Mapping[str, Any]:
    return {"status": VmStatus.UP}


def _after_resume(state: p.VmState) -> Mapping[str, Any]:
    if state.state == p.VmRunState.RUNNING:
        return {"status": VmStatus.UP}
    return {"status": VmStatus.PAUSED}


def _after_suspend(state: p.VmState) -> Mapping[str, Any]:
    if state.state == p.VmRunState.SUSPENDED:
        return {"status": VmStatus.SUSPENDED}
    return {"status": VmStatus.UP}


async def _call_shutdown(conns: Any, host_id: str, vm_id: str) -> p.VmState:
    result: p.VmState = await conns.call(host_id, p.VM_SHUTDOWN, p.VmShutdown(vm_id=vm_id))
    return result


async def _call_reboot(conns: Any, host_id: str, vm_id: str) -> p.VmState:
    result: p.VmState = await conns.call(host_id, p.VM_REBOOT, p.VmRef(vm_id=vm_id))
    return result


async def _call_resume(conns: Any, host_id: str, vm_id: str) -> p.VmState:
    result: p.VmState = await conns.call(host_id, p.VM_RESUME, p.VmRef(vm_id=vm_id))
    return result


async def _call_suspend(conns: Any, host_id: str, vm_id: str) -> p.VmState:
    result: p.VmState = await conns.call(host_id, p.VM_SUSPEND, p.VmRef(vm_id=vm_id))
    return result


# --- inline disks of a new VM --------------------------------------------------------------------


def _attached_aliases(conn: Connection, vm_id: str) -> set[str]:
    aliases = set()
    for attachment in repos.disk_attachments.query(conn, tables.disk_attachments.c.vm_id == vm_id):
        if attachment.disk is not None and attachment.disk.id is not None:
            disk = repos.disks.find(conn, attachment.disk.id)
            if disk is not None:
                aliases.add(disk.alias or disk.name or "")
    return aliases


async def _create_disks(ctx: CommandContext) -> None:
    vm_id = _vm_id(ctx)
    disks = ctx.env.inline_disks
    done = await ctx.db(lambda conn: _attached_aliases(conn, vm_id))
    for raw in ctx.params["attachments"]:
        attachment = m.DiskAttachment.model_validate(raw)
        alias = attachment.disk.alias or attachment.disk.name if attachment.disk else None
        if alias and alias in done:
            continue
        await asyncio.to_thread(disks.attach, vm_id, attachment)


async def _remove_disks(ctx: CommandContext) -> None:
    vm_id = _vm_id(ctx)
    disks = ctx.env.inline_disks
    attached = await ctx.db(
        lambda conn: repos.disk_attachments.query(conn, tables.disk_attachments.c.vm_id == vm_id)
    )
    for attachment in attached:
        assert attachment.id is not None
        await asyncio.to_thread(disks.remove, vm_id, attachment.id)

    def unlock(vm: m.Vm) -> Mapping[str, Any] | None:
        return {"status": VmStatus.DOWN} if vm.status == VmStatus.IMAGE_LOCKED else None

    await ctx.db(lambda conn: move_vm(conn, vm_id, unlock))


def _disk_states(conn: Connection, vm_id: str) -> list[str]:
    states = []
    for attachment in repos.disk_attachments.query(conn, tables.disk_attachments.c.vm_id == vm_id):
        if attachment.disk is not None and attachment.disk.id is not None:
            disk = repos.disks.find(conn, attachment.disk.id)
            states.append(str(disk.status.value) if disk and disk.status else "ok")
    return states


async def _wait_disks(ctx: CommandContext) -> None:
    vm_id = _vm_id(ctx)
    deadline = asyncio.get_running_loop().time() + _DISK_WAIT_S
    while True:
        states = await ctx.db(lambda conn: _disk_states(conn, vm_id))
        if "illegal" in states:
            raise AgentError("A disk of the new VM could not be created")
        if all(state == "ok" for state in states):
            break
        if asyncio.get_running_loop().time() > deadline:
            raise AgentError("The disks of the new VM were not created in time")
        await asyncio.sleep(_DISK_POLL_S)

    def unlock(vm: m.Vm) -> Mapping[str, Any] | None:
        return {"status": VmStatus.DOWN} if vm.status == VmStatus.IMAGE_LOCKED else None

    await ctx.db(lambda conn: move_vm(conn, vm_id, unlock))


# --- registration --------------------------------------------------------------------------------


def _text(template: str) -> Callable[[Mapping[str, Any], Mapping[str, Any]], str]:
    return lambda params, data: template.format(name=_name(data), user=ADMIN_USER)


def vm_command_definitions() -> list[CommandDefinition]:
    up_like = {VmStatus.UP, VmStatus.POWERING_UP, VmStatus.REBOOT_IN_PROGRESS}
    return [
        CommandDefinition(
            kind="vm.start",
            describe=lambda params: f"Launching VM {params['vm_id']}",
            steps=[
                Step("schedule", "Choosing a host for the VM", _schedule, _unschedule),
                Step("launch", "Starting the VM on its host", _launch, _unlaunch),
                Step("report", "Recording the start", _name_host),
            ],
            refs=_refs,
            describe_done=_describe_started,
            success_code=EventCode.VM_STARTED,
            failure_code=EventCode.VM_START_FAILED,
            # a cloud-init seed holds passwords: gone from the database once the start ends
            secret_params=frozenset({"run_once"}),
        ),
        CommandDefinition(
            kind="vm.stop",
            describe=lambda params: f"Powering off VM {params['vm_id']}",
            steps=[Step("power_off", "Powering the VM off", _power_off)],
            refs=_refs,
            describe_done=_describe_stopped,
            success_code=EventCode.VM_POWERED_OFF,
        ),
        CommandDefinition(
            kind="vm.shutdown",
            describe=lambda params: f"Shutting down VM {params['vm_id']}",
            steps=[
                Step(
                    "shutdown",
                    "Asking the guest to shut down",
                    _guest_operation(
                        up_like,
                        VmStatus.POWERING_DOWN,
                        _call_shutdown,
                        _after_shutdown,
                        "shutdown",
                    ),
                )
            ],
            refs=_refs,
            describe_done=_text("VM shutdown of {name} initiated by {user} has finished."),
            success_code=EventCode.VM_SHUTDOWN_INITIATED,
        ),
        CommandDefinition(
            kind="vm.reboot",
            describe=lambda params: f"Rebooting VM {params['vm_id']}",
            steps=[
                Step(
                    "reboot",
                    "Asking the guest to reboot",
                    _guest_operation(
                        {VmStatus.UP},
                        VmStatus.REBOOT_IN_PROGRESS,
                        _call_reboot,
                        _after_reboot,
                        "reboot",
                    ),
                )
            ],
            refs=_refs,
            describe_done=_text("VM {name} was restarted by {user}."),
        ),
        CommandDefinition(
            kind="vm.resume",
            describe=lambda params: f"Resuming VM {params['vm_id']}",
            steps=[
                Step(
                    "resume",
                    "Restarting the VM's vCPUs",
                    _guest_operation(
                        {VmStatus.PAUSED},
                        VmStatus.POWERING_UP,
                        _call_resume,
                        _after_resume,
                        "resume",
                    ),
                )
            ],
            refs=_refs,
            describe_done=_text("VM {name} was resumed by {user}."),
        ),
        CommandDefinition(
            kind="vm.suspend",
            describe=lambda params: f"Suspending VM {params['vm_id']}",
            steps=[
                Step(
                    "suspend",
                    "Saving the VM's memory to disk",
                    _guest_operation(
                        {VmStatus.UP, VmStatus.PAUSED},
                        VmStatus.SAVING_STATE,
                        _call_suspend,
                        _after_suspend,
                        "suspend",
                    ),
                )
            ],
            refs=_refs,
            describe_done=_text("Suspending VM {name} has finished."),
            success_code=EventCode.VM_SUSPENDED,
        ),
        CommandDefinition(
            kind="vm.add_disks",
            describe=lambda params: f"Creating the disks of VM {params['vm_id']}",
            steps=[
                Step("create_disks", "Creating the VM's disks", _create_disks, _remove_disks),
                Step("wait_disks", "Waiting for the disks to be ready", _wait_disks),
            ],
            refs=_refs,
        ),
    ]
