"""How agent reports move VM statuses (oVirt's VmStatus from the hypervisor's run state)."""

from __future__ import annotations

import pytest

from virtfleet.common.apimodel.enums import VmStatus
from virtfleet.common.protocol import VmRunState
from virtfleet.engine.monitoring.vmstate import next_status


@pytest.mark.parametrize(
    ("current", "reported", "expected"),
    [
        (VmStatus.WAIT_FOR_LAUNCH, VmRunState.RUNNING, VmStatus.UP),
        (VmStatus.POWERING_UP, VmRunState.RUNNING, VmStatus.UP),
        (VmStatus.RESTORING_STATE, VmRunState.RUNNING, VmStatus.UP),
        (VmStatus.REBOOT_IN_PROGRESS, VmRunState.RUNNING, VmStatus.UP),
        (VmStatus.UNKNOWN, VmRunState.RUNNING, VmStatus.UP),
        (VmStatus.UP, VmRunState.PAUSED, VmStatus.PAUSED),
        (VmStatus.PAUSED, VmRunState.RUNNING, VmStatus.UP),
        (VmStatus.UP, VmRunState.SHUTTING_DOWN, VmStatus.POWERING_DOWN),
        (VmStatus.UP, VmRunState.DOWN, VmStatus.DOWN),
        (VmStatus.POWERING_DOWN, VmRunState.DOWN, VmStatus.DOWN),
        (VmStatus.UP, VmRunState.CRASHED, VmStatus.DOWN),
        (VmStatus.SAVING_STATE, VmRunState.SUSPENDED, VmStatus.SUSPENDED),
        (VmStatus.UP, VmRunState.SUSPENDED, VmStatus.SUSPENDED),
        (VmStatus.SUSPENDED, VmRunState.DOWN, VmStatus.DOWN),
        (VmStatus.UP, VmRunState.MIGRATING, VmStatus.MIGRATING),
        (VmStatus.MIGRATING, VmRunState.RUNNING, VmStatus.UP),
    ],
)
def test_reports_move_the_vm_to_its_ovirt_status(
    current: VmStatus, reported: VmRunState, expected: VmStatus
) -> None:
    assert next_status(current, reported) == expected


@pytest.mark.parametrize(
    ("current", "reported"),
    [
        # a user operation in flight keeps its transitional status
        (VmStatus.POWERING_DOWN, VmRunState.RUNNING),
        (VmStatus.SAVING_STATE, VmRunState.RUNNING),
        (VmStatus.SAVING_STATE, VmRunState.PAUSED),
        # a launch the start command still owns is not undone by a stale report
        (VmStatus.WAIT_FOR_LAUNCH, VmRunState.DOWN),
        (VmStatus.RESTORING_STATE, VmRunState.DOWN),
        # a down VM is only ever brought up by a start or by reconciliation
        (VmStatus.DOWN, VmRunState.RUNNING),
        (VmStatus.DOWN, VmRunState.SUSPENDED),
        (VmStatus.DOWN, VmRunState.DOWN),
        (VmStatus.UP, VmRunState.RUNNING),
        (VmStatus.IMAGE_LOCKED, VmRunState.DOWN),
    ],
)
def test_reports_that_leave_the_vm_as_it_is(current: VmStatus, reported: VmRunState) -> None:
    assert next_status(current, reported) is None
