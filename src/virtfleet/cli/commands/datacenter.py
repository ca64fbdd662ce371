"""`virtfleet datacenter ...`: list and show data centers."""

from __future__ import annotations

import typer

from virtfleet.cli.commands import Resource, add_list_show
from virtfleet.cli.commands.cluster import version
from virtfleet.cli.output import Column, attr
from virtfleet.common import apimodel as m

DATACENTERS = Resource(
    collection="datacenters",
    key="data_center",
    label="data center",
    model=m.DataCenter,
    columns=(
        Column("Name", attr("name")),
        Column("ID", attr("id")),
        Column("Status", attr("status")),
        Column("Local", attr("local")),
        Column("Version", version),
    ),
)

app = typer.Typer(help="Data centers.", no_args_is_help=True)
add_list_show(app, DATACENTERS)
