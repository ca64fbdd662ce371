"""The shape of a filter: a hard constraint, in the line of Nova's host filters."""

from __future__ import annotations

from typing import ClassVar, Protocol

from virtfleet.engine.scheduler.model import HostCandidate, PlacementContext, Verdict, VmRequest
from virtfleet.engine.scheduler.units import UnitInfo


class Filter(Protocol):
    """``passes`` returns True, or the reason the host cannot take the VM (shown to the user
    when no host is left)."""

    unit: ClassVar[UnitInfo]

    def applies(self, vm: VmRequest, context: PlacementContext) -> bool:
        """False when the filter would pass every host for this VM: it is then not run."""
        ...

    def passes(self, host: HostCandidate, vm: VmRequest, context: PlacementContext) -> Verdict: ...
