"""Persisted commands that plug vNICs and disks into a running VM and take them out again.

Each is one agent call (libvirt changes the live guest and its definition together) and the
record of the result on the device's row. A plug that is rolled back after an engine restart is
unplugged again, so a device is never left in the guest without the engine knowing it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from virtfleet.common import apimodel as m
from virtfleet.common import protocol as p
from virtfleet.common.apimodel.enums import VmStatus
from virtfleet.common.errors import Conflict, NotFound
from virtfleet.engine.commands.context import CommandContext
from virtfleet.engine.commands.definition import CommandDefinition, Step
from virtfleet.engine.commands.vmspec import disk_spec, nic_spec, vm_nic_queues
from virtfleet.engine.core.transitions import host_of
from virtfleet.engine.persistence import repositories as repos

# A guest takes devices only while it runs; a paused one takes them when it resumes.
PLUGGABLE_STATUSES = frozenset({VmStatus.UP, VmStatus.PAUSED})


def require_pluggable(vm: m.Vm) -> str:
    """The host the VM runs on; Conflict when it is not in a state to take a device."""
    host_id = host_of(vm)
    if vm.status not in PLUGGABLE_STATUSES or host_id is None:
        raise Conflict(f"Cannot hot-plug a device of VM {vm.name}: it is {vm.status or 'down'}")
    return host_id


def running_host(conn: Connection, vm_id: str) -> str:
    return require_pluggable(repos.vms.get(conn, vm_id))


def _refs(params: Mapping[str, Any], data: Mapping[str, Any]) -> Mapping[str, str]:
    return {"vm_id": str(params["vm_id"])}


async def _call(ctx: CommandContext, method: p.Method[Any, Any], request: p.Wire) -> Any:
    vm_id = str(ctx.params["vm_id"])
    host_id = await ctx.db(lambda conn: running_host(conn, vm_id))
    return await ctx.env.connections.call(host_id, method, request)


# --- vNICs ---------------------------------------------------------------------------------------


def _nic_request(conn: Connection, vm_id: str, nic_id: str) -> p.NicPlug:
    nic = repos.nics.get(conn, nic_id)
    spec = nic_spec(conn, nic, vm_nic_queues(conn, vm_id))
    if spec is None:
        raise Conflict(f"The NIC {nic.name} has no network (vnic_profile) to plug into")
    return p.NicPlug(vm_id=vm_id, nic=spec)


async def _plug_nic(ctx: CommandContext) -> None:
    vm_id, nic_id = str(ctx.params["vm_id"]), str(ctx.params["nic_id"])
    request = await ctx.db(lambda conn: _nic_request(conn, vm_id, nic_id))
    await _call(ctx, p.VM_HOTPLUG_NIC, request)


async def _unplug_nic(ctx: CommandContext) -> None:
    request = p.NicUnplug(vm_id=str(ctx.params["vm_id"]), mac=str(ctx.params["mac"]))
    await _call(ctx, p.VM_HOTUNPLUG_NIC, request)


async def _unplug_nic_quietly(ctx: CommandContext) -> None:
    """Undo of a plug: a VM that stopped meanwhile has no device left to take out."""
    with contextlib.suppress(Conflict, NotFound):
        await _unplug_nic(ctx)


def _record_nic(plugged: bool) -> Any:
    async def record(ctx: CommandContext) -> None:
        nic_id = str(ctx.params["nic_id"])

        def save(conn: Connection) -> None:
            nic = repos.nics.find(conn, nic_id)
            if nic is not None:
                repos.nics.save(conn, nic.model_copy(update={"plugged": plugged}))

        await ctx.db(save)

    return record


# --- disks ---------------------------------------------------------------------------------------


def _disk_request(conn: Connection, vm_id: str, attachment_id: str) -> p.DiskPlug:
    attachment = repos.disk_attachments.get(conn, attachment_id)
    return p.DiskPlug(vm_id=vm_id, disk=disk_spec(conn, attachment))


async def _plug_disk(ctx: CommandContext) -> None:
    vm_id, attachment_id = str(ctx.params["vm_id"]), str(ctx.params["attachment_id"])
    request = await ctx.db(lambda conn: _disk_request(conn, vm_id, attachment_id))
    ctx.data["path"] = request.disk.path
    plugged = await _call(ctx, p.VM_HOTPLUG_DISK, request)
    ctx.data["target"] = plugged.device


async def _unplug_disk(ctx: CommandContext) -> None:
    path = str(ctx.params.get("path") or ctx.data["path"])
    await _call(ctx, p.VM_HOTUNPLUG_DISK, p.DiskUnplug(vm_id=str(ctx.params["vm_id"]), path=path))


async def _unplug_disk_quietly(ctx: CommandContext) -> None:
    with contextlib.suppress(Conflict, NotFound, KeyError):
        await _unplug_disk(ctx)


def _record_disk(active: bool) -> Any:
    async def record(ctx: CommandContext) -> None:
        attachment_id = str(ctx.params["attachment_id"])

        def save(conn: Connection) -> None:
            attachment = repos.disk_attachments.find(conn, attachment_id)
            if attachment is not None:
                repos.disk_attachments.save(conn, attachment.model_copy(update={"active": active}))

        await ctx.db(save)

    return record


def hotplug_command_definitions() -> list[CommandDefinition]:
    return [
        CommandDefinition(
            kind="vm.plug_nic",
            describe=lambda params: f"Hot-plugging a NIC into VM {params['vm_id']}",
            steps=[
                Step("plug", "Plugging the NIC into the guest", _plug_nic, _unplug_nic_quietly),
                Step("record", "Recording the NIC as plugged", _record_nic(True)),
            ],
            recovery="rollback",
            refs=_refs,
        ),
        CommandDefinition(
            kind="vm.unplug_nic",
            describe=lambda params: f"Hot-unplugging a NIC of VM {params['vm_id']}",
            steps=[
                Step("unplug", "Taking the NIC out of the guest", _unplug_nic),
                Step("record", "Recording the NIC as unplugged", _record_nic(False)),
            ],
            refs=_refs,
        ),
        CommandDefinition(
            kind="vm.plug_disk",
            describe=lambda params: f"Hot-plugging a disk into VM {params['vm_id']}",
            steps=[
                Step("plug", "Plugging the disk into the guest", _plug_disk, _unplug_disk_quietly),
                Step("record", "Recording the disk as active", _record_disk(True)),
            ],
            recovery="rollback",
            refs=_refs,
        ),
        CommandDefinition(
            kind="vm.unplug_disk",
            describe=lambda params: f"Hot-unplugging a disk of VM {params['vm_id']}",
            steps=[
                Step("unplug", "Taking the disk out of the guest", _unplug_disk),
                Step("record", "Recording the disk as inactive", _record_disk(False)),
            ],
            refs=_refs,
        ),
    ]
