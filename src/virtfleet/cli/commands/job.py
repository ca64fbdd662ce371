"""`virtfleet job ...`: list jobs and show one with its steps."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from virtfleet.cli import output
from virtfleet.cli.commands import connect, get_state
from virtfleet.cli.output import Column, OutputFormat, field

JsonObject = dict[str, Any]

JOB_COLUMNS = (
    Column("ID", field("id")),
    Column("Description", field("description")),
    Column("Status", field("status")),
    Column("Started", field("start_time")),
    Column("Ended", field("end_time")),
)
STEP_COLUMNS = (
    Column("#", field("number")),
    Column("Type", field("type")),
    Column("Description", field("description")),
    Column("Status", field("status")),
    Column("Started", field("start_time")),
    Column("Ended", field("end_time")),
)

app = typer.Typer(help="Jobs of long operations.", no_args_is_help=True)


@app.command("list")
def list_jobs(
    ctx: typer.Context,
    max_items: Annotated[int | None, typer.Option("--max", min=1, help="At most N jobs.")] = None,
) -> None:
    """List jobs."""
    jobs = connect(ctx).list_items("jobs", "job", max_items=max_items)
    output.render_list(jobs, JOB_COLUMNS, get_state(ctx).output)


@app.command("show")
def show(
    ctx: typer.Context,
    job_id: Annotated[str, typer.Argument(metavar="ID", help="Job id.")],
) -> None:
    """Show a job and its steps."""
    client = connect(ctx)
    job = client.get(f"/jobs/{job_id}")
    steps = client.list_items(f"jobs/{job_id}/steps", "step")
    steps.sort(key=lambda step: int(step.get("number") or 0))
    fmt = get_state(ctx).output
    if fmt is OutputFormat.JSON:
        output.print_json({**job, "steps": {"step": steps}})
        return
    output.render_object(job, fmt)
    output.render_list(steps, STEP_COLUMNS, fmt, title="Steps")
