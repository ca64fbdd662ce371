"""`virtfleet host ...`: list, show, add, activate, deactivate and remove hypervisor hosts."""

from __future__ import annotations

from typing import Annotated

import typer

from virtfleet.cli import output
from virtfleet.cli.commands import (
    DEFAULT_INTERVAL,
    DEFAULT_TIMEOUT,
    IntervalOpt,
    PasswordStdinOpt,
    Resource,
    TimeoutOpt,
    WaitOpt,
    add_list_show,
    add_remove,
    connect,
    finish,
    get_state,
    read_password,
)
from virtfleet.cli.output import Column, OutputFormat, attr
from virtfleet.cli.progress import StatusTarget
from virtfleet.common import apimodel as m

HOSTS = Resource(
    collection="hosts",
    key="host",
    label="host",
    model=m.Host,
    columns=(
        Column("Name", attr("name")),
        Column("ID", attr("id")),
        Column("Address", attr("address")),
        Column("Status", attr("status")),
    ),
)
_BROKEN = frozenset({"install_failed", "non_operational"})

app = typer.Typer(help="Hypervisor hosts.", no_args_is_help=True)
add_list_show(app, HOSTS)


@app.command("add")
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Name of the new host.")],
    address: Annotated[str, typer.Option(help="Host name or IP address the engine reaches.")],
    cluster: Annotated[str, typer.Option(help="Cluster name.")],
    password_stdin: PasswordStdinOpt = False,
    wait: WaitOpt = True,
    poll_interval: IntervalOpt = DEFAULT_INTERVAL,
    timeout: TimeoutOpt = DEFAULT_TIMEOUT,
) -> None:
    """Add a host (the engine installs it) and wait until it is up."""
    password = read_password(password_stdin, f"root password of {address}")
    client = connect(ctx)
    body = m.Host(
        name=name, address=address, root_password=password, cluster=m.Cluster(name=cluster)
    )
    created = client.post_as("/hosts", body, m.Host)
    host_id = str(created.id)
    label = f"host {name}"
    if not wait:
        if get_state(ctx).output is OutputFormat.JSON:
            output.print_json(output.as_json(created))
        else:
            output.message(f"{label} added: {host_id} ({output.cell(created.status)})")
        return
    target = StatusTarget(m.Host, HOSTS.path(host_id), label, frozenset({"up"}), failures=_BROKEN)
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


def _host_action(
    ctx: typer.Context,
    name: str,
    action: str,
    target_status: str,
    wait: bool,
    poll_interval: float,
    timeout: float,
) -> None:
    client = connect(ctx)
    host_id = HOSTS.resolve(client, name)
    reply = client.post_as(f"{HOSTS.path(host_id)}/{action}", m.Action(), m.Action)
    label = f"host {name}"
    failures = _BROKEN if target_status == "up" else frozenset()
    target = StatusTarget(m.Host, HOSTS.path(host_id), label, frozenset({target_status}), failures)
    finish(
        ctx,
        client,
        reply,
        target=target,
        wait=wait,
        interval=poll_interval,
        timeout=timeout,
        action=action,
        label=label,
    )


@app.command("activate")
def activate(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Host name or id.")],
    wait: WaitOpt = True,
    poll_interval: IntervalOpt = DEFAULT_INTERVAL,
    timeout: TimeoutOpt = DEFAULT_TIMEOUT,
) -> None:
    """Activate a host and wait until it is up."""
    _host_action(ctx, name, "activate", "up", wait, poll_interval, timeout)


@app.command("deactivate")
def deactivate(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Host name or id.")],
    wait: WaitOpt = True,
    poll_interval: IntervalOpt = DEFAULT_INTERVAL,
    timeout: TimeoutOpt = DEFAULT_TIMEOUT,
) -> None:
    """Move a host to maintenance and wait until it is there."""
    _host_action(ctx, name, "deactivate", "maintenance", wait, poll_interval, timeout)


add_remove(app, HOSTS, "Remove a host (it must be in maintenance).")
