"""What every command group shares: run state, the API client, list/show builders, action waits."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Annotated

import httpx
import typer

from virtfleet.cli import output
from virtfleet.cli.client import ApiClient, make_verify
from virtfleet.cli.output import Column, OutputFormat
from virtfleet.cli.profile import (
    Connection,
    load_profile,
    profile_path,
    resolve_connection,
    save_profile,
)
from virtfleet.cli.progress import (
    Followed,
    OperationFailed,
    StatusTarget,
    WaitOptions,
    wait_for,
)
from virtfleet.common import apimodel as m
from virtfleet.common.errors import InvalidInput


@dataclass
class CliState:
    """Per-run settings; tests pass one as ``obj`` to inject a transport, environment and sleep."""

    transport: httpx.BaseTransport | None = None
    env: Mapping[str, str] = field(default_factory=lambda: os.environ)
    output: OutputFormat = OutputFormat.TABLE
    sleep: Callable[[float], None] = time.sleep


def get_state(ctx: typer.Context) -> CliState:
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState()
    return root.obj


def _password_provider(conn: Connection) -> Callable[[], str | None]:
    def provide() -> str | None:
        if conn.password is not None:
            return conn.password
        if sys.stdin.isatty():
            return str(typer.prompt(f"Password for {conn.user}", hide_input=True, err=True))
        return None

    return provide


def connect(ctx: typer.Context) -> ApiClient:
    """An API client for this run, closed with the command; a refreshed token is saved back."""
    state = get_state(ctx)
    path = profile_path(state.env)
    profile = load_profile(path)
    conn = resolve_connection(profile, state.env)

    def remember(token: str) -> None:
        if conn.from_profile and profile is not None:
            save_profile(path, replace(profile, token=token))

    client = ApiClient(
        conn.url,
        user=conn.user,
        token=conn.token,
        password_provider=_password_provider(conn),
        on_token=remember,
        verify=make_verify(conn.ca_file, conn.insecure) if state.transport is None else True,
        transport=state.transport,
    )
    return ctx.with_resource(client)


@dataclass(frozen=True)
class Resource:
    """An API collection as the CLI shows it: its items decode as ``model``."""

    collection: str
    key: str
    label: str
    model: type[m.ApiObject]
    columns: Sequence[Column]

    def path(self, object_id: str) -> str:
        return f"/{self.collection}/{object_id}"

    def resolve(self, client: ApiClient, name_or_id: str) -> str:
        return client.resolve_id(self.collection, self.key, name_or_id, label=self.label)


def add_list_show(app: typer.Typer, resource: Resource) -> None:
    """Register the `list` and `show` commands every resource group has."""

    @app.command("list")
    def list_command(
        ctx: typer.Context,
        search: Annotated[
            str | None, typer.Option(help="oVirt search query, e.g. 'status=up'.")
        ] = None,
        max_items: Annotated[
            int | None, typer.Option("--max", min=1, help="At most N items.")
        ] = None,
    ) -> None:
        """List objects."""
        items = connect(ctx).list_as(
            resource.collection, resource.key, resource.model, search=search, max_items=max_items
        )
        output.render_list(items, resource.columns, get_state(ctx).output)

    list_command.__doc__ = f"List {resource.label}s."

    @app.command("show")
    def show_command(
        ctx: typer.Context,
        name: Annotated[str, typer.Argument(help="Name or id.")],
    ) -> None:
        """Show one object."""
        client = connect(ctx)
        object_id = resource.resolve(client, name)
        found = client.get_as(resource.path(object_id), resource.model)
        output.render_object(found, get_state(ctx).output)

    show_command.__doc__ = f"Show one {resource.label} by name or id."


WaitOpt = Annotated[bool, typer.Option("--wait/--no-wait", help="Wait until the operation ends.")]
IntervalOpt = Annotated[
    float, typer.Option("--poll-interval", min=0.0, help="Seconds between status checks.")
]
TimeoutOpt = Annotated[float, typer.Option("--timeout", min=0.0, help="Seconds before giving up.")]
DEFAULT_INTERVAL = 2.0
DEFAULT_TIMEOUT = 600.0


def finish(
    ctx: typer.Context,
    client: ApiClient,
    reply: m.ApiObject,
    *,
    target: StatusTarget[Followed] | None,
    wait: bool,
    interval: float,
    timeout: float,
    action: str,
    label: str,
) -> None:
    """Report an action's result (an ``Action``, or the object an add made): at once with
    --no-wait, else after waiting for its end."""
    state = get_state(ctx)
    job_id = None
    if isinstance(reply, m.Action):
        if reply.status in {"failed", "aborted"}:
            fault = reply.fault or m.Fault()
            raise OperationFailed(fault.detail or fault.reason or f"{action} failed")
        job_id = reply.job.id if reply.job is not None else None
    if not wait:
        suffix = f" (job {job_id})" if job_id else ""
        if state.output is OutputFormat.JSON:
            output.print_json(output.as_json(reply))
        else:
            output.message(f"{action} {label}: submitted{suffix}")
        return
    final = wait_for(
        client,
        target=target,
        job_id=job_id,
        options=WaitOptions(interval=interval, timeout=timeout),
        sleep=state.sleep,
    )
    if state.output is OutputFormat.JSON:
        output.print_json(output.as_json(final if final is not None else reply))
    else:
        result = (
            f"{label}: {output.cell(final.status)}"
            if final is not None
            else f"{action} {label}: done"
        )
        output.message(result)


def read_password(from_stdin: bool, prompt: str) -> str:
    """Read a password from the first line of stdin, or prompt for it without echo."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = str(typer.prompt(prompt, hide_input=True, err=True))
    if not password:
        raise InvalidInput("the password is empty")
    return password


PasswordStdinOpt = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin.")
]


def add_remove(app: typer.Typer, resource: Resource, doc: str) -> None:
    """Register `remove NAME`, which deletes the object by name or id."""

    @app.command("remove")
    def remove_command(
        ctx: typer.Context,
        name: Annotated[str, typer.Argument(help="Name or id.")],
    ) -> None:
        client = connect(ctx)
        object_id = resource.resolve(client, name)
        reply = client.delete_as(resource.path(object_id), m.Action)
        if get_state(ctx).output is OutputFormat.JSON:
            output.print_json(output.as_json(reply))
        else:
            output.message(f"{resource.label} {name} removed")

    remove_command.__doc__ = doc
