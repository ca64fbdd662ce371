"""``/schedulingpolicies`` and ``/schedulingpolicyunits``: oVirt's built-in policies, read-only.

They describe exactly what placement does (``engine/scheduler/policies.py``); custom policies
are not built, so every write is refused with a fault saying so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from virtfleet.common import apimodel as m
from virtfleet.common.apimodel.base import ApiObject
from virtfleet.common.errors import InvalidInput, NotFound
from virtfleet.engine.scheduler.policies import BY_ID, POLICIES, Policy
from virtfleet.engine.scheduler.registry import ALL_UNITS
from virtfleet.engine.scheduler.units import UnitInfo
from virtfleet.engine.services.base import (
    ListQuery,
    Options,
    ResourceService,
    Scope,
    one_listed,
)

READ_ONLY = (
    "Custom scheduling policies are not supported: the built-in policies and their units are "
    "read-only"
)


def _properties(values: dict[str, str] | Any) -> list[m.Property]:
    return [m.Property(name=name, value=value) for name, value in values.items()]


def unit_model(unit: UnitInfo) -> m.SchedulingPolicyUnit:
    return m.SchedulingPolicyUnit(
        id=unit.id,
        name=unit.name,
        description=unit.description,
        type=unit.type,
        internal=True,
        enabled=True,
        properties=[m.Property(name=name) for name in unit.parameters] or None,
    )


def policy_model(policy: Policy) -> m.SchedulingPolicy:
    return m.SchedulingPolicy(
        id=policy.id,
        name=policy.name,
        locked=True,
        default_policy=policy.default,
        properties=_properties(policy.properties),
    )


def _unit_ref(unit: UnitInfo) -> m.SchedulingPolicyUnit:
    return m.SchedulingPolicyUnit(id=unit.id)


class _ReadOnly(ResourceService):
    """Writes are refused: what placement does is not configurable here yet."""

    def add(self, scope: Scope, obj: Any, options: Options) -> ApiObject:
        raise InvalidInput(READ_ONLY)

    def update(self, scope: Scope, object_id: str, changes: Any) -> ApiObject:
        raise InvalidInput(READ_ONLY)

    def remove(self, scope: Scope, object_id: str, options: Options) -> None:
        raise InvalidInput(READ_ONLY)


def _limited(items: list[Any], query: ListQuery) -> list[Any]:
    return items if query.max is None or query.max < 0 else items[: query.max]


class SchedulingPolicyService(_ReadOnly):
    def list(self, scope: Scope, query: ListQuery) -> Sequence[m.SchedulingPolicy]:
        return _limited([policy_model(p) for p in POLICIES], query)

    def get(self, scope: Scope, object_id: str) -> m.SchedulingPolicy:
        return policy_model(_policy(object_id))


class SchedulingPolicyUnitService(_ReadOnly):
    def list(self, scope: Scope, query: ListQuery) -> Sequence[m.SchedulingPolicyUnit]:
        return _limited([unit_model(u) for u in ALL_UNITS], query)

    def get(self, scope: Scope, object_id: str) -> m.SchedulingPolicyUnit:
        units = [unit_model(u) for u in ALL_UNITS]
        return one_listed(units, object_id, _missing("scheduling policy unit", object_id))


def _missing(what: str, object_id: str) -> str:
    return f"Entity not found: {what} with id '{object_id}'"


def _policy(policy_id: str) -> Policy:
    found = BY_ID.get(policy_id)
    if found is None:
        raise NotFound(_missing("scheduling policy", policy_id))
    return found


class PolicyFilterService(_ReadOnly):
    """A policy's filters; each is named by its unit's id, as oVirt does."""

    def _items(self, scope: Scope) -> list[m.Filter]:
        policy = _policy(scope.parent)
        return [
            m.Filter(
                id=f.unit.id,
                name=f.unit.name,
                position=policy.position(f.unit.name),
                scheduling_policy_unit=_unit_ref(f.unit),
            )
            for f in policy.filters
        ]

    def list(self, scope: Scope, query: ListQuery) -> Sequence[m.Filter]:
        return _limited(self._items(scope), query)

    def get(self, scope: Scope, object_id: str) -> m.Filter:
        return one_listed(self._items(scope), object_id, _missing("filter", object_id))


class PolicyWeightService(_ReadOnly):
    def _items(self, scope: Scope) -> list[m.Weight]:
        return [
            m.Weight(
                id=w.unit.id,
                name=w.unit.name,
                factor=factor,
                scheduling_policy_unit=_unit_ref(w.unit),
            )
            for w, factor in _policy(scope.parent).weights
        ]

    def list(self, scope: Scope, query: ListQuery) -> Sequence[m.Weight]:
        return _limited(self._items(scope), query)

    def get(self, scope: Scope, object_id: str) -> m.Weight:
        return one_listed(self._items(scope), object_id, _missing("weight", object_id))


class PolicyBalanceService(_ReadOnly):
    def _items(self, scope: Scope) -> list[m.Balance]:
        unit = _policy(scope.parent).balance
        return [m.Balance(id=unit.id, name=unit.name, scheduling_policy_unit=_unit_ref(unit))]

    def list(self, scope: Scope, query: ListQuery) -> Sequence[m.Balance]:
        return _limited(self._items(scope), query)

    def get(self, scope: Scope, object_id: str) -> m.Balance:
        return one_listed(self._items(scope), object_id, _missing("balance", object_id))


def scheduling_services() -> dict[str, ResourceService]:
    return {
        "scheduling_policies": SchedulingPolicyService(),
        "scheduling_policy_filters": PolicyFilterService(),
        "scheduling_policy_weights": PolicyWeightService(),
        "scheduling_policy_balances": PolicyBalanceService(),
        "scheduling_policy_units": SchedulingPolicyUnitService(),
    }
