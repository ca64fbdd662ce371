"""`virtfleet cluster ...`: list and show clusters."""

from __future__ import annotations

from typing import Any

import typer

from virtfleet.cli.commands import Resource, add_list_show
from virtfleet.cli.output import Column, field


def version(obj: dict[str, Any]) -> object:
    """Show an oVirt version object ({"major": 4, "minor": 7}) as 4.7."""
    value = obj.get("version")
    if isinstance(value, dict) and "major" in value:
        return f"{value.get('major')}.{value.get('minor', 0)}"
    return value


CLUSTERS = Resource(
    collection="clusters",
    key="cluster",
    label="cluster",
    columns=(
        Column("Name", field("name")),
        Column("ID", field("id")),
        Column("Version", version),
        Column("Description", field("description")),
    ),
)

app = typer.Typer(help="Clusters.", no_args_is_help=True)
add_list_show(app, CLUSTERS)
