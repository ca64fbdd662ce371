"""`virtfleet cluster ...`: list and show clusters."""

from __future__ import annotations

import typer

from virtfleet.cli.commands import Resource, add_list_show
from virtfleet.cli.output import Column, attr
from virtfleet.common import apimodel as m


def version(obj: m.Cluster | m.DataCenter) -> str | None:
    """Show an oVirt version (major 4, minor 7) as 4.7."""
    value = obj.version
    if value is None or value.major is None:
        return None
    return f"{value.major}.{value.minor or 0}"


CLUSTERS = Resource(
    collection="clusters",
    key="cluster",
    label="cluster",
    model=m.Cluster,
    columns=(
        Column("Name", attr("name")),
        Column("ID", attr("id")),
        Column("Version", version),
        Column("Description", attr("description")),
    ),
)

app = typer.Typer(help="Clusters.", no_args_is_help=True)
add_list_show(app, CLUSTERS)
