"""A VM's migration settings, kept as they are until live migration exists: a client may send
them back unchanged (GET, then PUT the same document), but any change is refused."""

from __future__ import annotations

from typing import Any

from virtfleet.common import apimodel as m
from virtfleet.common.apimodel.enums import InheritableBoolean, ParallelMigrationsPolicy
from virtfleet.common.errors import InvalidInput

# oVirt's "use the cluster's" values: sending one asks for nothing of the VM's own
_NEUTRAL = {InheritableBoolean.INHERIT.value, ParallelMigrationsPolicy.INHERIT.value}
UNSET_DOWNTIME = -1


def _flatten(prefix: str, value: Any, into: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if key != "href":  # a reference is its id; links are the server's to write
                _flatten(f"{prefix}.{key}", item, into)
    elif value not in _NEUTRAL:
        into[prefix] = value


def migration_settings(vm: m.VmBase) -> dict[str, Any]:
    """The migration settings the VM asks for, by field path (``migration.auto_converge``)."""
    settings: dict[str, Any] = {}
    if vm.migration is not None:
        _flatten("migration", vm.migration.model_dump(mode="json", exclude_none=True), settings)
    if vm.migration_downtime not in (None, UNSET_DOWNTIME):
        settings["migration_downtime"] = vm.migration_downtime
    if vm.tunnel_migration:
        settings["tunnel_migration"] = True
    return settings


def refuse_migration_changes(before: m.VmBase, after: m.VmBase) -> None:
    """A 400 naming the first migration field ``after`` sets otherwise than ``before``."""
    old, new = migration_settings(before), migration_settings(after)
    changed = sorted(key for key in old.keys() | new.keys() if old.get(key) != new.get(key))
    if changed:
        raise InvalidInput(
            f"{changed[0]} cannot be changed: live migration is not available yet, so a VM "
            "keeps the migration settings it has"
        )
