"""`virtfleet vm ...`: list, show, create, power actions and removal of virtual machines."""

from __future__ import annotations

import re
import sys
from typing import Annotated

import typer

from virtfleet.cli import output, serialconsole
from virtfleet.cli.client import make_verify
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
    get_state,
)
from virtfleet.cli.output import Column, OutputFormat, attr, human_bytes
from virtfleet.cli.profile import load_profile, profile_path, resolve_connection
from virtfleet.cli.progress import StatusTarget
from virtfleet.common import apimodel as m
from virtfleet.common.apimodel.common import vcpu_count
from virtfleet.common.errors import InvalidInput

VMS = Resource(
    collection="vms",
    key="vm",
    label="VM",
    model=m.Vm,
    columns=(
        Column("Name", attr("name")),
        Column("ID", attr("id")),
        Column("Status", attr("status")),
        Column("Memory", lambda vm: human_bytes(vm.memory)),
        Column("CPUs", lambda vm: vcpu_count(vm.cpu)),
    ),
)

_UNITS = {
    "": 1024**2,
    "b": 1,
    "k": 1024,
    "kib": 1024,
    "kb": 1000,
    "m": 1024**2,
    "mib": 1024**2,
    "mb": 1000**2,
    "g": 1024**3,
    "gib": 1024**3,
    "gb": 1000**3,
    "t": 1024**4,
    "tib": 1024**4,
    "tb": 1000**4,
}


def parse_size(text: str) -> int:
    """Parse '1GiB', '512M', '2GB' into bytes; a bare number means MiB."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _UNITS:
        raise InvalidInput(f"cannot read size {text!r}; use e.g. 1GiB, 512MiB")
    size = int(float(match.group(1)) * _UNITS[unit])
    if size <= 0:
        raise InvalidInput(f"size {text!r} must be positive")
    return size


# action -> (target statuses, statuses meaning failure once the VM left its first status)
_ACTIONS: dict[str, tuple[frozenset[str], frozenset[str], str]] = {
    "start": (frozenset({"up"}), frozenset({"down"}), "Start a VM and wait until it is up."),
    "stop": (frozenset({"down"}), frozenset(), "Power a VM off and wait until it is down."),
    "shutdown": (
        frozenset({"down"}),
        frozenset(),
        "Shut a VM down through its guest and wait until it is down.",
    ),
    "reboot": (frozenset(), frozenset(), "Reboot a VM (waits for its job, if any)."),
    "suspend": (
        frozenset({"suspended"}),
        frozenset({"up"}),
        "Suspend a VM to disk and wait until it is suspended.",
    ),
}

app = typer.Typer(help="Virtual machines.", no_args_is_help=True)
add_list_show(app, VMS)


@app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Name of the new VM.")],
    cluster: Annotated[str, typer.Option(help="Cluster name.")],
    template: Annotated[str, typer.Option(help="Template name.")] = "Blank",
    memory: Annotated[str, typer.Option(help="Memory, e.g. 1GiB or 512MiB.")] = "1GiB",
    cpus: Annotated[int | None, typer.Option(min=1, help="Virtual CPUs (sockets).")] = None,
    description: Annotated[str | None, typer.Option(help="Free text.")] = None,
) -> None:
    """Create a VM from a template."""
    body = m.Vm(
        name=name,
        cluster=m.Cluster(name=cluster),
        template=m.Template(name=template),
        memory=parse_size(memory),
        description=description,
    )
    if cpus is not None:
        body.cpu = m.Cpu(topology=m.CpuTopology(sockets=cpus, cores=1, threads=1))
    created = connect(ctx).post_as("/vms", body, m.Vm)
    if get_state(ctx).output is OutputFormat.JSON:
        output.print_json(output.as_json(created))
    else:
        output.message(f"VM {created.name or name} created: {created.id}")


def _register_action(action: str, targets: frozenset[str], after: frozenset[str], doc: str) -> None:
    def command(
        ctx: typer.Context,
        name: Annotated[str, typer.Argument(help="VM name or id.")],
        wait: WaitOpt = True,
        poll_interval: IntervalOpt = DEFAULT_INTERVAL,
        timeout: TimeoutOpt = DEFAULT_TIMEOUT,
    ) -> None:
        client = connect(ctx)
        vm_id = VMS.resolve(client, name)
        reply = client.post_as(f"{VMS.path(vm_id)}/{action}", m.Action(), m.Action)
        label = f"VM {name}"
        target = (
            StatusTarget(m.Vm, VMS.path(vm_id), label, targets, failures_after_change=after)
            if targets
            else None
        )
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

    command.__doc__ = doc
    app.command(action)(command)


for _action, (_targets, _after, _doc) in _ACTIONS.items():
    _register_action(_action, _targets, _after, _doc)


add_remove(app, VMS, "Remove a VM and its disks.")


@app.command("console")
def console(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="VM name or id.")],
    timeout: Annotated[
        float | None, typer.Option(min=0.1, help="End the session after this many seconds.")
    ] = None,
) -> None:
    """Open a VM's serial console; Ctrl-] ends it. Without a terminal, relay stdin and stdout."""
    client = connect(ctx)
    vm_id = VMS.resolve(client, name)
    env = get_state(ctx).env
    conn = resolve_connection(load_profile(profile_path(env)), env)
    interactive = sys.stdin.isatty()
    if interactive:
        output.notice(f"Serial console of VM {name}; escape with Ctrl-]")
    serialconsole.relay_console(
        serialconsole.console_url(client.url, vm_id),
        client.token or "",
        context=serialconsole.tls_context(make_verify(conn.ca_file, conn.insecure)),
        input_fd=sys.stdin.fileno(),
        output=sys.stdout.buffer,
        interactive=interactive,
        timeout=timeout,
    )
