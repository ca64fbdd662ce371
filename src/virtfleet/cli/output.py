"""Rendering of API objects as Rich tables or JSON, and of one-line messages."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum, StrEnum
from typing import Any

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from virtfleet.common.apimodel import ApiObject, ApiStruct
from virtfleet.common.apimodel.shape import scalar_to_text

JsonObject = dict[str, Any]

# Piped output is read by scripts: never fold a table to a terminal width there.
_PIPE_WIDTH = 240
_HIDDEN_KEYS = frozenset({"href", "link", "actions"})


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


@dataclass(frozen=True)
class Column:
    """One table column: its header and how to read its cell from an API object."""

    header: str
    extract: Callable[[Any], object]


def make_console(*, stderr: bool = False) -> Console:
    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal:
        console.width = _PIPE_WIDTH
    return console


def attr(*path: str) -> Callable[[ApiStruct], object]:
    """Read a nested attribute, e.g. ``attr("storage", "type")``; a missing part gives None."""

    def extract(obj: ApiStruct) -> object:
        value: object = obj
        for name in path:
            value = getattr(value, name, None)
            if value is None:
                return None
        return value

    return extract


def field(*path: str) -> Callable[[JsonObject], object]:
    """Read a nested key of a plain row (not an API object), e.g. the testbed's hosts."""

    def extract(obj: JsonObject) -> object:
        value: object = obj
        for key in path:
            if not isinstance(value, dict):
                return None
            value = value.get(key)
        return value

    return extract


Shown = ApiStruct | JsonObject


def as_json(obj: Shown) -> JsonObject:
    """What ``--output json`` prints of an API object: its fields, by their wire names."""
    if isinstance(obj, ApiStruct):
        return obj.model_dump(mode="json", by_alias=True, exclude_none=True)
    return obj


def human_bytes(value: object) -> str:
    """Show a byte count in binary units (1073741824 -> 1 GiB)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "" if value is None else str(value)
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if size == int(size) else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, ApiObject):
        return str(value.name or value.id or "")
    if isinstance(value, ApiStruct):
        return json.dumps(as_json(value))
    if isinstance(value, Enum | datetime):
        return scalar_to_text(value)
    if isinstance(value, dict):
        return str(value.get("name") or value.get("id") or json.dumps(value))
    return str(value)


def print_json(data: object, *, indent: int | None = 2) -> None:
    """JSON goes out unstyled so that scripts can parse it."""
    typer.echo(json.dumps(data, indent=indent))


def render_list(
    items: Sequence[Shown],
    columns: Sequence[Column],
    fmt: OutputFormat,
    *,
    title: str | None = None,
) -> None:
    if fmt is OutputFormat.JSON:
        print_json([as_json(item) for item in items])
        return
    table = Table(box=box.SIMPLE_HEAD, title=title, title_justify="left")
    for column in columns:
        table.add_column(column.header, overflow="fold")
    for item in items:
        table.add_row(*(escape(cell(column.extract(item))) for column in columns))
    make_console().print(table)


def flatten(obj: JsonObject, prefix: str = "") -> Iterable[tuple[str, str]]:
    """Yield ``(dotted.key, text)`` pairs; references collapse to their id or name."""
    for key, value in obj.items():
        if key in _HIDDEN_KEYS:
            continue
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            if set(value) <= {"id", "href", "name"}:
                yield name, cell(value)
            else:
                yield from flatten(value, f"{name}.")
        elif isinstance(value, list):
            yield name, ", ".join(cell(item) for item in value)
        else:
            yield name, cell(value)


def render_object(obj: Shown, fmt: OutputFormat, *, title: str | None = None) -> None:
    if fmt is OutputFormat.JSON:
        print_json(as_json(obj))
        return
    table = Table(box=box.SIMPLE, show_header=False, title=title, title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in flatten(as_json(obj)):
        table.add_row(escape(key), escape(value))
    make_console().print(table)


def message(text: str) -> None:
    """A plain line on stdout for table mode (results of actions, login)."""
    make_console().print(escape(text), soft_wrap=True)


def notice(text: str) -> None:
    """Information for the person at the terminal, kept off stdout and out of the data."""
    make_console(stderr=True).print(escape(text), soft_wrap=True)


def error(text: str) -> None:
    make_console(stderr=True).print(f"[bold red]Error:[/] {escape(text)}", soft_wrap=True)
