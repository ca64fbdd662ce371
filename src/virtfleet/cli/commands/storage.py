"""`virtfleet storage ...`: storage domains and their attachment to data centers."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from virtfleet.cli.client import ApiClient
from virtfleet.cli.commands import (
    DEFAULT_INTERVAL,
    DEFAULT_TIMEOUT,
    IntervalOpt,
    Resource,
    TimeoutOpt,
    WaitOpt,
    add_list_show,
    add_remove,
    connect,
    finish,
)
from virtfleet.cli.commands.datacenter import DATACENTERS
from virtfleet.cli.output import Column, attr, human_bytes
from virtfleet.cli.progress import StatusTarget
from virtfleet.common import apimodel as m
from virtfleet.common.apimodel.enums import StorageDomainType
from virtfleet.common.errors import Conflict, InvalidInput

STORAGE_DOMAINS = Resource(
    collection="storagedomains",
    key="storage_domain",
    label="storage domain",
    model=m.StorageDomain,
    columns=(
        Column("Name", attr("name")),
        Column("ID", attr("id")),
        Column("Type", attr("type")),
        Column("Storage", attr("storage", "type")),
        Column("Status", attr("status")),
        Column("Available", lambda sd: human_bytes(sd.available)),
        Column("Used", lambda sd: human_bytes(sd.used)),
    ),
)
# Attached domains report their status per data center; anything but "locked" is settled.
_SETTLED = frozenset({"active", "inactive", "maintenance", "unattached"})


class StorageType(StrEnum):
    POSIXFS = "posixfs"
    NFS = "nfs"
    LOCALFS = "localfs"


app = typer.Typer(help="Storage domains.", no_args_is_help=True)
add_list_show(app, STORAGE_DOMAINS)
add_remove(app, STORAGE_DOMAINS, "Remove an unattached storage domain.")

DatacenterOpt = Annotated[
    str | None,
    typer.Option(
        "--datacenter", help="Data center name or id (default: the one it is attached to)."
    ),
]


@app.command("add")
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Name of the new storage domain.")],
    path: Annotated[str, typer.Option(help="Export path or directory.")],
    host: Annotated[str, typer.Option(help="Host that creates the domain.")],
    storage_type: Annotated[StorageType, typer.Option("--type", help="Storage kind.")] = (
        StorageType.POSIXFS
    ),
    address: Annotated[str | None, typer.Option(help="NFS server address.")] = None,
    vfs_type: Annotated[str | None, typer.Option(help="posixfs mount type (e.g. ext4).")] = None,
    wait: WaitOpt = True,
    poll_interval: IntervalOpt = DEFAULT_INTERVAL,
    timeout: TimeoutOpt = DEFAULT_TIMEOUT,
) -> None:
    """Create a data storage domain and wait until it is ready."""
    if storage_type is StorageType.NFS and not address:
        raise InvalidInput("an NFS storage domain needs --address")
    body = m.StorageDomain(
        name=name,
        type=StorageDomainType.DATA,
        storage=m.HostStorage(
            type=m.StorageType(storage_type.value),
            path=path,
            address=address or None,
            vfs_type=vfs_type or None,
        ),
        host=m.Host(name=host),
    )
    client = connect(ctx)
    created = client.post_as(f"/{STORAGE_DOMAINS.collection}", body, m.StorageDomain)
    label = f"storage domain {name}"
    target = StatusTarget(m.StorageDomain, STORAGE_DOMAINS.path(str(created.id)), label, _SETTLED)
    finish(
        ctx,
        client,
        created,
        target=target,
        wait=wait,
        interval=poll_interval,
        timeout=timeout,
        action="add",
        label=label,
    )


def _attached_datacenters(sd: m.StorageDomain) -> list[str]:
    refs = sd.data_centers or ([sd.data_center] if sd.data_center is not None else [])
    return [ref.id for ref in refs if ref.id]


def _locate(client: ApiClient, name: str, datacenter: str | None) -> tuple[str, str]:
    """Find the domain's id and the data center to act in."""
    sd_id = STORAGE_DOMAINS.resolve(client, name)
    if datacenter is not None:
        return sd_id, DATACENTERS.resolve(client, datacenter)
    attached = _attached_datacenters(client.get_as(STORAGE_DOMAINS.path(sd_id), m.StorageDomain))
    if len(attached) != 1:
        state = "not attached to a data center" if not attached else "attached to several"
        raise Conflict(f"storage domain {name} is {state}; pass --datacenter")
    return sd_id, attached[0]


def _attachment(dc_id: str, sd_id: str) -> str:
    return f"{DATACENTERS.path(dc_id)}/storagedomains/{sd_id}"


@app.command("attach")
def attach(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Storage domain name or id.")],
    datacenter: Annotated[str, typer.Option("--datacenter", help="Data center name or id.")],
    wait: WaitOpt = True,
    poll_interval: IntervalOpt = DEFAULT_INTERVAL,
    timeout: TimeoutOpt = DEFAULT_TIMEOUT,
) -> None:
    """Attach a storage domain to a data center."""
    client = connect(ctx)
    sd_id, dc_id = _locate(client, name, datacenter)
    reply = client.post_as(
        f"{DATACENTERS.path(dc_id)}/storagedomains", m.StorageDomain(id=sd_id), m.StorageDomain
    )
    label = f"storage domain {name}"
    settled = _SETTLED - {"unattached"}
    finish(
        ctx,
        client,
        reply,
        target=StatusTarget(m.StorageDomain, _attachment(dc_id, sd_id), label, settled),
        wait=wait,
        interval=poll_interval,
        timeout=timeout,
        action="attach",
        label=label,
    )


def _dc_action(
    ctx: typer.Context,
    name: str,
    datacenter: str | None,
    action: str,
    target_status: str,
    options: tuple[bool, float, float],
) -> None:
    wait, poll_interval, timeout = options
    client = connect(ctx)
    sd_id, dc_id = _locate(client, name, datacenter)
    reply = client.post_as(f"{_attachment(dc_id, sd_id)}/{action}", m.Action(), m.Action)
    label = f"storage domain {name}"
    finish(
        ctx,
        client,
        reply,
        target=StatusTarget(
            m.StorageDomain, _attachment(dc_id, sd_id), label, frozenset({target_status})
        ),
        wait=wait,
        interval=poll_interval,
        timeout=timeout,
        action=action,
        label=label,
    )


@app.command("activate")
def activate(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Storage domain name or id.")],
    datacenter: DatacenterOpt = None,
    wait: WaitOpt = True,
    poll_interval: IntervalOpt = DEFAULT_INTERVAL,
    timeout: TimeoutOpt = DEFAULT_TIMEOUT,
) -> None:
    """Activate an attached storage domain and wait until it is active."""
    _dc_action(ctx, name, datacenter, "activate", "active", (wait, poll_interval, timeout))


@app.command("deactivate")
def deactivate(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Storage domain name or id.")],
    datacenter: DatacenterOpt = None,
    wait: WaitOpt = True,
    poll_interval: IntervalOpt = DEFAULT_INTERVAL,
    timeout: TimeoutOpt = DEFAULT_TIMEOUT,
) -> None:
    """Move an attached storage domain to maintenance."""
    _dc_action(ctx, name, datacenter, "deactivate", "maintenance", (wait, poll_interval, timeout))


@app.command("detach")
def detach(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Storage domain name or id.")],
    datacenter: DatacenterOpt = None,
    wait: WaitOpt = True,
    poll_interval: IntervalOpt = DEFAULT_INTERVAL,
    timeout: TimeoutOpt = DEFAULT_TIMEOUT,
) -> None:
    """Detach a storage domain (in maintenance) from its data center."""
    client = connect(ctx)
    sd_id, dc_id = _locate(client, name, datacenter)
    reply = client.delete_as(_attachment(dc_id, sd_id), m.Action)
    label = f"storage domain {name}"
    finish(
        ctx,
        client,
        reply,
        target=StatusTarget(
            m.StorageDomain, STORAGE_DOMAINS.path(sd_id), label, frozenset({"unattached"})
        ),
        wait=wait,
        interval=poll_interval,
        timeout=timeout,
        action="detach",
        label=label,
    )
