"""`virtfleet job ...`: list jobs and show one with its steps."""

from __future__ import annotations

from typing import Annotated

import typer

from virtfleet.cli import output
from virtfleet.cli.commands import connect, get_state
from virtfleet.cli.output import Column, OutputFormat, attr
from virtfleet.cli.progress import job_steps
from virtfleet.common import apimodel as m

JOB_COLUMNS = (
    Column("ID", attr("id")),
    Column("Description", attr("description")),
    Column("Status", attr("status")),
    Column("Started", attr("start_time")),
    Column("Ended", attr("end_time")),
)
STEP_COLUMNS = (
    Column("#", attr("number")),
    Column("Type", attr("type")),
    Column("Description", attr("description")),
    Column("Status", attr("status")),
    Column("Started", attr("start_time")),
    Column("Ended", attr("end_time")),
)

app = typer.Typer(help="Jobs of long operations.", no_args_is_help=True)


@app.command("list")
def list_jobs(
    ctx: typer.Context,
    max_items: Annotated[int | None, typer.Option("--max", min=1, help="At most N jobs.")] = None,
) -> None:
    """List jobs."""
    jobs = connect(ctx).list_as("jobs", "job", m.Job, max_items=max_items)
    output.render_list(jobs, JOB_COLUMNS, get_state(ctx).output)


@app.command("show")
def show(
    ctx: typer.Context,
    job_id: Annotated[str, typer.Argument(metavar="ID", help="Job id.")],
) -> None:
    """Show a job and its steps."""
    client = connect(ctx)
    job = client.get_as(f"/jobs/{job_id}", m.Job)
    steps = job_steps(client, job_id)
    fmt = get_state(ctx).output
    if fmt is OutputFormat.JSON:
        output.print_json({**output.as_json(job), "steps": [output.as_json(s) for s in steps]})
        return
    output.render_object(job, fmt)
    output.render_list(steps, STEP_COLUMNS, fmt, title="Steps")
