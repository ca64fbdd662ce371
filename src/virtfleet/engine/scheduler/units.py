"""How a policy unit presents itself in ``/schedulingpolicyunits``: oVirt's id, name and type."""

from __future__ import annotations

from dataclasses import dataclass

from virtfleet.common.apimodel.enums import PolicyUnitType


@dataclass(frozen=True)
class UnitInfo:
    """A unit's identity as oVirt publishes it, and the policy properties it reads."""

    id: str
    name: str
    type: PolicyUnitType
    description: str
    parameters: tuple[str, ...] = ()
