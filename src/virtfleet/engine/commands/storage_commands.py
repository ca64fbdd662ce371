"""The persisted storage commands: add, activate and format storage domains, add and remove disks.

Services validate, mark the object (``locked``, ``activating``) and submit; the steps here talk
to a storage host and move the rows to their final status. The first step of each command does
nothing but carry the undo that puts the object back where a failure should leave it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, delete, func, select

from virtfleet.common import apimodel as m
from virtfleet.common import protocol as p
from virtfleet.common.apimodel.enums import (
    DiskStatus,
    StorageDomainStatus,
)
from virtfleet.common.errors import Conflict, NotFound
from virtfleet.engine.commands.context import CommandContext
from virtfleet.engine.commands.definition import CommandDefinition, Step, StepAction
from virtfleet.engine.commands.storage_hosts import (
    call_on_any,
    storage_host_candidates,
    up_hosts,
)
from virtfleet.engine.core.derived import volume_format
from virtfleet.engine.core.domainstate import (
    data_center_of,
    refresh_data_center_status,
    set_domain_status,
    space_fields,
)
from virtfleet.engine.core.eventlog import EventCode
from virtfleet.engine.persistence import repositories as repos
from virtfleet.engine.persistence import tables

ADD_DOMAIN = "storage_domain.add"
ATTACH_DOMAIN = "storage_domain.attach"
ACTIVATE_DOMAIN = "storage_domain.activate"
FORMAT_DOMAIN = "storage_domain.format"
ADD_DISK = "disk.add"
REMOVE_DISK = "disk.remove"

_D = tables.storage_domains


def committed_bytes(conn: Connection, domain_id: str) -> int:
    """What the domain's disks may grow to: the sum of their provisioned sizes."""
    total = conn.execute(
        select(func.coalesce(func.sum(tables.disks.c.provisioned_size), 0)).where(
            tables.disks.c.storage_domain_id == domain_id
        )
    ).scalar_one()
    return int(total)


def forget_domain(conn: Connection, domain_id: str) -> None:
    """Delete a domain's row with its disks and their attachments (the files are not touched)."""
    domain = repos.storage_domains.find(conn, domain_id)
    if domain is None:
        return
    disk_ids = select(tables.disks.c.id).where(tables.disks.c.storage_domain_id == domain_id)
    conn.execute(
        delete(tables.disk_attachments).where(tables.disk_attachments.c.disk_id.in_(disk_ids))
    )
    conn.execute(delete(tables.disks).where(tables.disks.c.storage_domain_id == domain_id))
    repos.storage_domains.delete(conn, domain_id)
    refresh_data_center_status(conn, data_center_of(domain))


def forget_disk(conn: Connection, disk_id: str) -> None:
    conn.execute(
        delete(tables.disk_attachments).where(tables.disk_attachments.c.disk_id == disk_id)
    )
    conn.execute(delete(tables.disks).where(tables.disks.c.id == disk_id))


def domain_ref(domain: m.StorageDomain) -> p.DomainRef:
    if domain.id is None or domain.storage is None or domain.storage.path is None:
        raise Conflict(f"The storage domain '{domain.name}' has no path")
    return p.DomainRef(domain_id=domain.id, path=domain.storage.path)


def volume_ref(domain: m.StorageDomain, disk: m.Disk) -> p.VolumeRef:
    ref = domain_ref(domain)
    assert disk.id is not None and disk.image_id is not None
    return p.VolumeRef(
        domain_id=ref.domain_id, path=ref.path, image_id=disk.id, volume_id=disk.image_id
    )


def disk_domain(conn: Connection, disk: m.Disk) -> m.StorageDomain:
    domains = disk.storage_domains or []
    if not domains or domains[0].id is None:
        raise Conflict(f"The disk '{disk.name}' has no storage domain")
    return repos.storage_domains.get(conn, domains[0].id)


# --- storage domains -----------------------------------------------------------------------------


def _domain_refs(params: Mapping[str, Any], _data: Mapping[str, Any]) -> Mapping[str, str]:
    refs = {"storage_domain_id": str(params["domain_id"])}
    if params.get("data_center_id"):
        refs["data_center_id"] = str(params["data_center_id"])
    return refs


async def _nothing(_ctx: CommandContext) -> None:
    return None


async def _drop_new_domain(ctx: CommandContext) -> None:
    domain_id = str(ctx.params["domain_id"])

    def drop(conn: Connection) -> None:
        domain = repos.storage_domains.find(conn, domain_id)
        if domain is not None and domain.status == StorageDomainStatus.LOCKED:
            repos.storage_domains.delete(conn, domain_id)

    await ctx.db(drop)


async def _create_domain(ctx: CommandContext) -> None:
    domain_id = str(ctx.params["domain_id"])

    def plan(conn: Connection) -> tuple[m.StorageDomain, list[tuple[str, str]]]:
        domain = repos.storage_domains.get(conn, domain_id)
        host = ctx.params.get("host_id")
        return domain, storage_host_candidates(conn, None, str(host) if host else None)

    domain, hosts = await ctx.db(plan)
    ref = domain_ref(domain)
    request = p.DomainCreate(
        domain_id=ref.domain_id,
        path=ref.path,
        name=domain.name or "",
        storage_type=(
            storage_type.value
            if (storage_type := domain.storage and domain.storage.type)
            else "posixfs"
        ),
    )
    host_id, info = await call_on_any(ctx.env.connections, hosts, p.STORAGE_CREATE_DOMAIN, request)
    ctx.data.update(host_id=host_id, info=info.model_dump())


async def _register_domain(ctx: CommandContext) -> None:
    info = p.DomainInfo.model_validate(ctx.data["info"])
    domain_id = str(ctx.params["domain_id"])
    await ctx.db(
        lambda conn: set_domain_status(
            conn,
            domain_id,
            StorageDomainStatus.UNATTACHED,
            only_from=(StorageDomainStatus.LOCKED,),
            info=info,
        )
    )


def _domain_back(status: StorageDomainStatus, only_from: StorageDomainStatus) -> StepAction:
    """An undo that returns the command's domain to ``status`` if it still is in ``only_from``."""

    async def undo(ctx: CommandContext) -> None:
        domain_id = str(ctx.params["domain_id"])
        await ctx.db(
            lambda conn: set_domain_status(conn, domain_id, status, only_from=(only_from,))
        )

    return undo


_back_to_maintenance = _domain_back(
    StorageDomainStatus.MAINTENANCE, only_from=StorageDomainStatus.ACTIVATING
)
_unlock_domain = _domain_back(StorageDomainStatus.UNATTACHED, only_from=StorageDomainStatus.LOCKED)


async def _connect_domain(ctx: CommandContext) -> None:
    """Every up host of the data center must see the domain before it turns active."""
    domain_id = str(ctx.params["domain_id"])
    center = str(ctx.params["data_center_id"])

    def plan(conn: Connection) -> tuple[m.StorageDomain, list[tuple[str, str]]]:
        return repos.storage_domains.get(conn, domain_id), up_hosts(conn, center)

    domain, hosts = await ctx.db(plan)
    if not hosts:
        raise Conflict(f"No host is up in the data center to connect storage domain {domain.name}")
    ref = domain_ref(domain)
    caller = ctx.env.connections
    results = await asyncio.gather(
        *(caller.call(host_id, p.STORAGE_CONNECT_DOMAIN, ref) for host_id, _ in hosts),
        return_exceptions=True,
    )
    failures = [
        f"{name}: {getattr(result, 'detail', result)}"
        for (_, name), result in zip(hosts, results, strict=True)
        if isinstance(result, BaseException)
    ]
    if failures:
        raise Conflict(
            f"Storage domain {domain.name} is not reachable from every host: {'; '.join(failures)}"
        )
    first = results[0]
    assert isinstance(first, p.DomainInfo)
    ctx.data["info"] = first.model_dump()


async def _mark_active(ctx: CommandContext) -> None:
    info = p.DomainInfo.model_validate(ctx.data["info"])
    domain_id = str(ctx.params["domain_id"])
    center = str(ctx.params["data_center_id"])

    def activate(conn: Connection) -> None:
        others = repos.storage_domains.query(
            conn, (_D.c.data_center_id == center) & (_D.c.id != domain_id)
        )
        master = not any(d.master and d.status == StorageDomainStatus.ACTIVE for d in others)
        set_domain_status(
            conn,
            domain_id,
            StorageDomainStatus.ACTIVE,
            only_from=(StorageDomainStatus.ACTIVATING,),
            info=info,
            master=master,
        )

    await ctx.db(activate)


def _activation_steps() -> list[Step]:
    return [
        Step("mark", "Marking the storage domain as activating", _nothing, _back_to_maintenance),
        Step("connect", "Connecting the storage domain on the hosts", _connect_domain),
        Step("activate", "Activating the storage domain", _mark_active),
    ]


async def _remove_domain_files(ctx: CommandContext) -> None:
    ref = p.DomainRef(domain_id=str(ctx.params["domain_id"]), path=str(ctx.params["path"]))
    host = ctx.params.get("host_id")
    hosts = await ctx.db(
        lambda conn: storage_host_candidates(conn, None, str(host) if host else None)
    )
    with contextlib.suppress(NotFound):  # already gone: a resumed step, or removed by hand
        await call_on_any(ctx.env.connections, hosts, p.STORAGE_REMOVE_DOMAIN, ref)


async def _forget_domain(ctx: CommandContext) -> None:
    domain_id = str(ctx.params["domain_id"])
    await ctx.db(lambda conn: forget_domain(conn, domain_id))


def _name(params: Mapping[str, Any]) -> str:
    return str(params.get("name") or params.get("domain_id") or params.get("disk_id"))


DOMAIN_COMMANDS = (
    CommandDefinition(
        kind=ADD_DOMAIN,
        describe=lambda params: f"Adding storage domain {_name(params)}",
        steps=[
            Step("reserve", "Reserving the storage domain", _nothing, _drop_new_domain),
            Step("create", "Creating the storage domain on the host", _create_domain),
            Step("register", "Registering the storage domain", _register_domain),
        ],
        refs=_domain_refs,
        describe_done=lambda params, _: f"Storage domain {_name(params)} was added.",
        success_code=EventCode.STORAGE_DOMAIN_ADDED,
    ),
    CommandDefinition(
        kind=ATTACH_DOMAIN,
        describe=lambda params: f"Attaching storage domain {_name(params)} to the data center",
        steps=_activation_steps(),
        refs=_domain_refs,
        describe_done=lambda params, _: (
            f"Storage domain {_name(params)} was attached to the data center and activated."
        ),
        success_code=EventCode.STORAGE_DOMAIN_ATTACHED,
    ),
    CommandDefinition(
        kind=ACTIVATE_DOMAIN,
        describe=lambda params: f"Activating storage domain {_name(params)}",
        steps=_activation_steps(),
        refs=_domain_refs,
        describe_done=lambda params, _: f"Storage domain {_name(params)} was activated.",
        success_code=EventCode.STORAGE_DOMAIN_ACTIVATED,
    ),
    CommandDefinition(
        kind=FORMAT_DOMAIN,
        describe=lambda params: f"Removing and formatting storage domain {_name(params)}",
        steps=[
            Step("mark", "Locking the storage domain", _nothing, _unlock_domain),
            Step("format", "Removing the storage domain's files", _remove_domain_files),
            Step("forget", "Removing the storage domain", _forget_domain),
        ],
        refs=_domain_refs,
        describe_done=lambda params, _: f"Storage domain {_name(params)} was removed.",
        success_code=EventCode.STORAGE_DOMAIN_REMOVED,
    ),
)

# --- disks ---------------------------------------------------------------------------------------


def _disk_refs(params: Mapping[str, Any], _data: Mapping[str, Any]) -> Mapping[str, str]:
    refs = {}
    if params.get("domain_id"):
        refs["storage_domain_id"] = str(params["domain_id"])
    if params.get("vm_id"):
        refs["vm_id"] = str(params["vm_id"])
    return refs


def _set_disk(
    conn: Connection, disk_id: str, status: DiskStatus, *, only_from: DiskStatus, **changes: Any
) -> None:
    disk = repos.disks.find(conn, disk_id)
    if disk is None or disk.status != only_from:
        return
    version = repos.disks.version_of(conn, disk_id)
    repos.disks.save(
        conn, disk.model_copy(update={"status": status, **changes}), expected_version=version
    )


async def _disk_illegal(ctx: CommandContext) -> None:
    disk_id = str(ctx.params["disk_id"])
    await ctx.db(
        lambda conn: _set_disk(conn, disk_id, DiskStatus.ILLEGAL, only_from=DiskStatus.LOCKED)
    )


async def _create_volume(ctx: CommandContext) -> None:
    disk_id = str(ctx.params["disk_id"])

    def plan(conn: Connection) -> tuple[m.Disk, m.StorageDomain, list[tuple[str, str]]]:
        disk = repos.disks.get(conn, disk_id)
        domain = disk_domain(conn, disk)
        return disk, domain, storage_host_candidates(conn, data_center_of(domain))

    disk, domain, hosts = await ctx.db(plan)
    ref = volume_ref(domain, disk)
    request = p.VolumeCreate(
        **ref.model_dump(),
        size_bytes=disk.provisioned_size or 0,
        format=volume_format(disk.format),
        sparse=disk.sparse if disk.sparse is not None else True,
    )
    caller = ctx.env.connections
    host_id, volume = await call_on_any(caller, hosts, p.VOLUME_CREATE, request)
    space = await caller.call(host_id, p.STORAGE_GET_DOMAIN_INFO, domain_ref(domain))
    ctx.data.update(volume=volume.model_dump(), space=space.model_dump())


async def _disk_ok(ctx: CommandContext) -> None:
    disk_id = str(ctx.params["disk_id"])
    volume = p.VolumeInfo.model_validate(ctx.data["volume"])
    space = p.DomainInfo.model_validate(ctx.data["space"])

    def finish(conn: Connection) -> None:
        _set_disk(
            conn,
            disk_id,
            DiskStatus.OK,
            only_from=DiskStatus.LOCKED,
            actual_size=volume.actual_size,
            total_size=volume.actual_size,
        )
        disk = repos.disks.find(conn, disk_id)
        if disk is not None:
            _refresh_space(conn, disk_domain(conn, disk), space)

    await ctx.db(finish)


def _refresh_space(conn: Connection, domain: m.StorageDomain, space: p.DomainInfo) -> None:
    assert domain.id is not None
    version = repos.storage_domains.version_of(conn, domain.id)
    repos.storage_domains.save(
        conn, domain.model_copy(update=space_fields(space)), expected_version=version
    )


async def _restore_disk_status(ctx: CommandContext) -> None:
    disk_id = str(ctx.params["disk_id"])
    previous = DiskStatus(str(ctx.params["previous_status"]))
    await ctx.db(lambda conn: _set_disk(conn, disk_id, previous, only_from=DiskStatus.LOCKED))


async def _remove_volume(ctx: CommandContext) -> None:
    disk_id = str(ctx.params["disk_id"])

    def plan(conn: Connection) -> tuple[m.Disk, m.StorageDomain, list[tuple[str, str]]] | None:
        disk = repos.disks.find(conn, disk_id)
        if disk is None:
            return None
        domain = disk_domain(conn, disk)
        return disk, domain, storage_host_candidates(conn, data_center_of(domain))

    planned = await ctx.db(plan)
    if planned is None:
        return
    disk, domain, hosts = planned
    with contextlib.suppress(NotFound):  # never created (illegal disk), or an interrupted run
        await call_on_any(ctx.env.connections, hosts, p.VOLUME_REMOVE, volume_ref(domain, disk))


async def _forget_disk(ctx: CommandContext) -> None:
    disk_id = str(ctx.params["disk_id"])
    await ctx.db(lambda conn: forget_disk(conn, disk_id))


DISK_COMMANDS = (
    CommandDefinition(
        kind=ADD_DISK,
        describe=lambda params: f"Adding disk {_name(params)}",
        steps=[
            Step("reserve", "Locking the new disk", _nothing, _disk_illegal),
            Step("create", "Creating the disk's volume", _create_volume),
            Step("finish", "Marking the disk as ready", _disk_ok),
        ],
        refs=_disk_refs,
        describe_done=lambda params, _: f"The disk {_name(params)} was successfully added.",
        success_code=EventCode.DISK_ADDED,
    ),
    CommandDefinition(
        kind=REMOVE_DISK,
        describe=lambda params: f"Removing disk {_name(params)}",
        steps=[
            Step("mark", "Locking the disk", _nothing, _restore_disk_status),
            Step("remove", "Removing the disk's volume", _remove_volume),
            Step("forget", "Removing the disk", _forget_disk),
        ],
        refs=_disk_refs,
        describe_done=lambda params, _: f"Disk {_name(params)} was successfully removed.",
        success_code=EventCode.DISK_REMOVED,
    ),
)


def storage_command_definitions() -> tuple[CommandDefinition, ...]:
    return (*DOMAIN_COMMANDS, *DISK_COMMANDS)
