"""oVirt's search objects: each has its own fields, and cross-references reach the fields of
related objects (``Vms: host.status=up``, ``Datacenter: storage=data1``).

A collection's searchable names are derived here from those declarations, so that every field a
collection answers for another (``host.<field>`` on VMs) is the one the other answers for itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from virtfleet.engine.services.search.sql import (
    FieldResolver,
    Link,
    SearchFields,
    linked,
    unsupported_field,
)


@dataclass(frozen=True)
class Entity:
    """The fields of one search object; ``unsupported`` are those oVirt knows that virtfleet keeps
    no data for (refused with a fault naming them), ``name_field`` what its bare name matches."""

    fields: Mapping[str, FieldResolver]
    unsupported: frozenset[str] = frozenset()
    name_field: str = "name"

    def own(self) -> dict[str, FieldResolver]:
        refused = {name: unsupported_field(name) for name in self.unsupported}
        return {**refused, **self.fields}


@dataclass(frozen=True)
class CrossRef:
    """A related search object under its oVirt names (``host``, ``hosts``); ``link`` None when
    virtfleet has no such relation yet (every use is then refused)."""

    names: tuple[str, ...]
    target: Entity
    link: Link | None


@dataclass(frozen=True)
class Searchable:
    """An entity with its cross-references: what one collection's ``search=`` accepts;
    ``prefixes`` are oVirt's names of the search object a query may start with (``VMS:``)."""

    entity: Entity
    cross_refs: tuple[CrossRef, ...] = ()
    extra: Mapping[str, FieldResolver] = field(default_factory=dict)
    prefixes: tuple[str, ...] = ()

    def resolvers(self) -> SearchFields:
        """Every accepted name: own fields, ``ref`` (the related object's name), ``ref.field``."""
        found: dict[str, FieldResolver] = {}
        for ref in self.cross_refs:
            for prefix in ref.names:
                for name, resolver in ref.target.own().items():
                    dotted = f"{prefix}.{name}"
                    if ref.link is None or name in ref.target.unsupported:
                        found[dotted] = unsupported_field(dotted)
                    else:
                        found[dotted] = linked(ref.link, resolver)
                found[prefix] = found[f"{prefix}.{ref.target.name_field}"]
        return SearchFields({**found, **self.extra, **self.entity.own()}, self.prefixes)
