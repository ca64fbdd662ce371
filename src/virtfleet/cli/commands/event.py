"""`virtfleet event list [--follow]`: the audit log, oldest first like a log file."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from virtfleet.cli import output
from virtfleet.cli.client import ApiClient
from virtfleet.cli.commands import connect, get_state
from virtfleet.cli.output import Column, OutputFormat, attr, cell
from virtfleet.common import apimodel as m

COLUMNS = (
    Column("ID", attr("id")),
    Column("Time", attr("time")),
    Column("Severity", attr("severity")),
    Column("Code", attr("code")),
    Column("Description", attr("description")),
)
_SEVERITY_STYLE = {"warning": "yellow", "error": "red", "alert": "bold red"}

app = typer.Typer(help="Audit events.", no_args_is_help=True)


def _event_id(event: m.Event) -> int:
    """Event ids are integers written as strings; anything else sorts first."""
    try:
        return int(event.id or 0)
    except ValueError:
        return 0


def _chronological(events: list[m.Event]) -> list[m.Event]:
    return sorted(events, key=_event_id)


def _print_line(event: m.Event, fmt: OutputFormat) -> None:
    if fmt is OutputFormat.JSON:
        output.print_json(output.as_json(event), indent=None)
        return
    severity = cell(event.severity)
    style = _SEVERITY_STYLE.get(severity, "")
    styled = f"[{style}]{severity:<7}[/]" if style else f"{severity:<7}"
    line = (
        f"{escape(cell(event.time))}  {styled}  "
        f"{escape(cell(event.code)):>5}  {escape(cell(event.description))}"
    )
    output.make_console().print(line, soft_wrap=True)


def _follow(
    client: ApiClient, last_id: int, search: str | None, interval: float, ctx: typer.Context
) -> None:
    """Poll for events newer than the last one shown until interrupted."""
    state = get_state(ctx)
    while True:
        state.sleep(interval)
        newer = client.list_as("events", "event", m.Event, search=search, extra={"from": last_id})
        for event in _chronological(newer):
            if _event_id(event) > last_id:
                _print_line(event, state.output)
                last_id = _event_id(event)


@app.command("list")
def list_events(
    ctx: typer.Context,
    max_items: Annotated[int, typer.Option("--max", min=1, help="How many recent events.")] = 25,
    search: Annotated[str | None, typer.Option(help="oVirt search query.")] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new events.")
    ] = False,
    interval: Annotated[
        float, typer.Option("--poll-interval", min=0.0, help="Seconds between polls (--follow).")
    ] = 2.0,
) -> None:
    """List recent events; with --follow, keep printing new ones until Ctrl-C."""
    fmt = get_state(ctx).output
    client = connect(ctx)
    events = _chronological(
        client.list_as("events", "event", m.Event, search=search, max_items=max_items)
    )
    if not follow:
        output.render_list(events, COLUMNS, fmt)
        return
    for event in events:
        _print_line(event, fmt)
    last_id = max((_event_id(event) for event in events), default=0)
    try:
        _follow(client, last_id, search, interval, ctx)
    except KeyboardInterrupt:
        return
