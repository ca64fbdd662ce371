"""The `virtfleet` command: process launchers (up, engine, agent) and the API resource groups."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from virtfleet.cli import output
from virtfleet.cli.commands import (
    cluster,
    datacenter,
    event,
    get_state,
    host,
    job,
    login,
    storage,
    testbed,
    vm,
)
from virtfleet.cli.output import OutputFormat
from virtfleet.common.errors import VirtfleetError


class _FriendlyErrors(TyperGroup):
    """Show expected failures as one line on stderr with exit code 1, never as a traceback."""

    def invoke(self, ctx: Any) -> Any:  # typer's vendored click Context is private
        try:
            return super().invoke(ctx)
        except VirtfleetError as exc:
            output.error(f"{exc.reason}: {exc.detail}")
        except OSError as exc:
            output.error(str(exc))
        raise typer.Exit(1)


app = typer.Typer(
    cls=_FriendlyErrors,
    help="Manage virtfleet: run the engine and agents, and drive VMs, hosts and storage.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(vm.app, name="vm")
app.add_typer(host.app, name="host")
app.add_typer(cluster.app, name="cluster")
app.add_typer(datacenter.app, name="datacenter")
app.add_typer(storage.app, name="storage")
app.add_typer(event.app, name="event")
app.add_typer(job.app, name="job")
app.add_typer(testbed.app, name="testbed")
app.command("login")(login.login)
app.command("logout")(login.logout)


@app.callback()
def main(
    ctx: typer.Context,
    output_format: Annotated[
        OutputFormat,
        typer.Option("--output", "-o", case_sensitive=False, help="Output as a table or JSON."),
    ] = OutputFormat.TABLE,
) -> None:
    """Manage virtfleet: run the engine and agents, and drive VMs, hosts and storage."""
    get_state(ctx).output = output_format


def _run(module: str, function: str, *args: object, **kwargs: object) -> None:
    """Import a process entry point only when its command runs, so the CLI stays light."""
    getattr(importlib.import_module(module), function)(*args, **kwargs)


def default_data_dir() -> Path:
    if os.geteuid() == 0:
        return Path("/var/lib/virtfleet")
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "virtfleet"


ConfigOpt = Annotated[
    Path, typer.Option("--config", exists=True, dir_okay=False, help="Configuration file.")
]


@app.command("up")
def up(
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="State directory [default: ~/.local/share/virtfleet, /var/lib/virtfleet as root]."
        ),
    ] = None,
    port: Annotated[int, typer.Option(min=1, max=65535, help="HTTPS port.")] = 8443,
    simulate: Annotated[int, typer.Option(min=0, help="Add N simulated hosts.")] = 0,
    listen: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    agent_port: Annotated[
        int,
        typer.Option(min=1, max=65000, help="Port of the local agent; simulated hosts follow it."),
    ] = 54321,
    local_driver: Annotated[
        str,
        typer.Option(
            help="The local host's driver: qemu (real guests) or test (libvirt's test driver)."
        ),
    ] = "qemu",
    libvirt_uri: Annotated[
        str | None,
        typer.Option(
            help="libvirt URI of the local host [default: qemu:///system as root, "
            "qemu:///session otherwise]."
        ),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            help="Database URL, e.g. postgresql://user:password@db/virtfleet "
            "[default: $VIRTFLEET_DATABASE_URL, else SQLite in the data dir]."
        ),
    ] = None,
) -> None:
    """Run an engine and a local agent together (all-in-one)."""
    _run(
        "virtfleet.allinone",
        "run_up",
        data_dir=data_dir or default_data_dir(),
        port=port,
        simulate=simulate,
        listen=listen,
        agent_port=agent_port,
        local_driver=local_driver,
        libvirt_uri=libvirt_uri,
        database_url=database_url,
    )


@app.command("engine")
def engine(config: ConfigOpt) -> None:
    """Run the engine service."""
    _run("virtfleet.engine.main", "run_engine", config)


@app.command("agent")
def agent(config: ConfigOpt) -> None:
    """Run the host agent service."""
    _run("virtfleet.agent.main", "run_agent", config)
