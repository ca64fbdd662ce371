"""Running a device hot-plug command and answering when it is done, as oVirt's API does: a
client that added a NIC to a running VM finds it plugged when the call returns."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from virtfleet.common.apimodel.enums import JobStatus
from virtfleet.common.errors import AgentError, Conflict
from virtfleet.engine.commands import store
from virtfleet.engine.commands.runner import CommandRunner

# The agent call's own limit (60 s) plus time for the job's bookkeeping.
HOTPLUG_WAIT_S = 90.0


class Hotplug:
    """Submits the hot-plug commands (``commands.hotplug_commands``) and waits for them."""

    def __init__(self, runner: CommandRunner) -> None:
        self.runner = runner

    def run(self, kind: str, params: Mapping[str, Any], vm_name: str | None, what: str) -> None:
        """Run the command under the VM's lock; Conflict when the VM is busy, AgentError
        (with the command's reason) when it failed and was undone."""
        vm_id = str(params["vm_id"])
        try:
            job_id = self.runner.submit(
                kind, params, locks=[(vm_id, "vm")], description=f"{what} of VM {vm_name}"
            )
        except store.Locked:
            raise Conflict(
                f"VM {vm_name} is busy with another operation; try again later"
            ) from None
        job, error = self.runner.wait_blocking(job_id, HOTPLUG_WAIT_S)
        if job.status != JobStatus.FINISHED:
            raise AgentError(f"{what} of VM {vm_name} failed: {error or job.status}")
