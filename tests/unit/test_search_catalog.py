"""The field tables: oVirt's names per collection, cross-references derived from the related
object's own fields, and every possible search over them answered or refused, never crashing."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from virtfleet.common.errors import InvalidInput
from virtfleet.engine.persistence.tables import metadata
from virtfleet.engine.services.search import (
    And,
    Comparison,
    Expr,
    Operator,
    Or,
    catalog,
    compile_condition,
    text_field,
)
from virtfleet.engine.services.search.entities import CrossRef, Entity, Searchable

COLLECTIONS = {
    "vms": (catalog.VMS, "vms"),
    "hosts": (catalog.HOSTS, "hosts"),
    "templates": (catalog.TEMPLATES, "templates"),
    "datacenters": (catalog.DATACENTERS, "data_centers"),
    "clusters": (catalog.CLUSTERS, "clusters"),
    "storagedomains": (catalog.STORAGE_DOMAINS, "storage_domains"),
    "disks": (catalog.DISKS, "disks"),
    "networks": (catalog.NETWORKS, "networks"),
    "vnicprofiles": (catalog.VNIC_PROFILES, "vnic_profiles"),
    "events": (catalog.EVENTS, "events"),
    "jobs": (catalog.JOBS, "jobs"),
    "users": (catalog.USERS, "users"),
    "tags": (catalog.TAGS, "tags"),
}

# Facts from oVirt's search back end that real clients lean on (ovirt.ovirt, the SDK examples).
OVIRT_FIELDS = {
    "vms": {
        "name",
        "status",
        "cluster",
        "datacenter",
        "host",
        "template",
        "storage",
        "tag",
        "memory",
        "os",
        "id",
        "description",
        "comment",
        "type",
        "creationdate",
        "on_host",
    },
    "hosts": {"name", "status", "cluster", "datacenter", "address", "memory", "cpus", "type"},
    "templates": {"name", "cluster", "datacenter", "status", "vm.name", "os", "mem"},
    "datacenters": {"name", "status", "storage", "clusters.name", "local", "description"},
    "clusters": {"name", "description", "architecture", "compatibility_level", "datacenter"},
    "storagedomains": {"name", "id", "status", "datacenter", "type", "free_size"},
    "disks": {"name", "alias", "storage.name", "vm_names", "disk_type", "status", "size"},
    "networks": {"name", "datacenter", "vlanid", "mtu", "vmnetwork"},
    "vnicprofiles": {"name", "network_name", "datacenter", "port_mirroring"},
    "events": {
        "type",
        "severity",
        "message",
        "time",
        "vm.name",
        "vm.id",
        "host.name",
        "usrname",
        "correlation_id",
    },
    "jobs": {"correlation_id"},
    "users": {"usrname", "name", "lastname", "department", "directory"},
}


@pytest.mark.parametrize("collection", sorted(OVIRT_FIELDS))
def test_each_collection_knows_the_fields_clients_use(collection: str) -> None:
    searchable, _ = COLLECTIONS[collection]
    assert OVIRT_FIELDS[collection] <= set(searchable.resolvers())


def test_a_cross_reference_reaches_every_own_field_of_the_related_object() -> None:
    names = set(catalog.VMS.resolvers())
    assert {f"host.{field}" for field in catalog.HOST.fields} <= names
    assert {f"hosts.{field}" for field in catalog.HOST.fields} <= names


def test_a_cross_reference_alone_matches_the_related_objects_name() -> None:
    host = Entity({"name": text_field(sa.column("name")), "status": text_field(sa.column("s"))})
    linked_to = CrossRef(("host",), host, lambda condition: condition)
    resolvers = Searchable(Entity({}), (linked_to,)).resolvers()
    bare = resolvers["host"](Operator.EQ, "h1", True)
    dotted = resolvers["host.name"](Operator.EQ, "h1", True)
    assert str(bare.compile()) == str(dotted.compile())


def test_refused_cross_references_and_unsupported_fields_name_what_was_asked() -> None:
    resolvers = catalog.VMS.resolvers()
    with pytest.raises(InvalidInput, match=r"'users\.name' is not supported"):
        resolvers["users.name"](Operator.EQ, "x", True)
    with pytest.raises(InvalidInput, match=r"'host\.ha_score' is not supported"):
        resolvers["host.ha_score"](Operator.EQ, "1", True)


def test_own_fields_win_over_a_cross_reference_of_the_same_name() -> None:
    own = text_field(sa.column("mine"))
    other = Entity({"name": text_field(sa.column("theirs"))})
    resolvers = Searchable(
        Entity({"host": own}), (CrossRef(("host",), other, lambda c: c),)
    ).resolvers()
    assert resolvers["host"] is own


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def schema(request: pytest.FixtureRequest) -> Iterator[sa.Engine]:
    """The engine's real schema, empty: what matters is that each query runs."""
    if request.param == "sqlite":
        engine = sa.create_engine("sqlite://", poolclass=sa.StaticPool)
    else:
        url = os.environ.get("VIRTFLEET_TEST_PG_URL")
        if not url:
            pytest.skip("VIRTFLEET_TEST_PG_URL is not set")
        engine = sa.create_engine(url)
    metadata.drop_all(engine)
    metadata.create_all(engine)
    yield engine
    metadata.drop_all(engine)
    engine.dispose()


_VALUES = st.one_of(
    st.sampled_from(["up", "true", "False", "4.7", "1024", "-3", "2024-05-01", "x*", "*", ""]),
    st.integers(-(2**64), 2**64).map(str),
    st.text(max_size=12),
)


@st.composite
def _queries(draw: st.DrawFn) -> tuple[str, Expr]:
    collection = draw(st.sampled_from(sorted(COLLECTIONS)))
    names = sorted(COLLECTIONS[collection][0].resolvers())
    comparisons = st.builds(
        Comparison, st.sampled_from(names), st.sampled_from(list(Operator)), _VALUES
    )
    expr: Expr = draw(
        st.recursive(
            comparisons,
            lambda inner: (
                st.builds(And, st.tuples(inner, inner)) | st.builds(Or, st.tuples(inner, inner))
            ),
            max_leaves=4,
        )
    )
    return collection, expr


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_queries(), st.booleans())
def test_any_search_over_the_catalog_runs_or_is_refused(
    schema: sa.Engine, query: tuple[str, Expr], case_sensitive: bool
) -> None:
    collection, expr = query
    searchable, table_name = COLLECTIONS[collection]
    table = metadata.tables[table_name]
    try:
        condition = compile_condition(expr, searchable.resolvers(), case_sensitive=case_sensitive)
    except InvalidInput:
        return
    with schema.connect() as conn:
        conn.execute(sa.select(table.c.id).where(condition)).all()


def test_the_compatibility_notes_list_every_field_of_each_collection() -> None:
    notes = (Path(__file__).parents[2] / "docs" / "api-compatibility.md").read_text()
    rows = {
        line.split("|")[1].strip(" `"): line
        for line in notes.splitlines()
        if line.startswith("| `")
    }
    for collection, (searchable, _) in COLLECTIONS.items():
        row = rows[collection]
        for name in [*searchable.entity.fields, *searchable.entity.unsupported]:
            assert f"`{name}`" in row, f"{collection}: {name} missing from the notes"
