"""Field kinds beyond text and dates (booleans, units, decimals, versions, refused fields) and the
links that carry a condition from one table to another."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from virtfleet.common.errors import InvalidInput
from virtfleet.engine.services.search import (
    Comparison,
    FieldResolver,
    Operator,
    compile_condition,
    parse_search,
    text_field,
)
from virtfleet.engine.services.search.sql import (
    bool_field,
    int_field,
    linked,
    number_field,
    through,
    unsupported_field,
    version_field,
    via,
)

metadata = sa.MetaData()
racks = sa.Table(
    "kinds_racks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String),
)
boxes = sa.Table(
    "kinds_boxes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("rack_id", sa.Integer, sa.ForeignKey("kinds_racks.id")),
    sa.Column("flag", sa.Boolean, nullable=True),
    sa.Column("size", sa.BigInteger, nullable=True),
    sa.Column("speed", sa.Float, nullable=True),
    sa.Column("major", sa.Integer, nullable=True),
    sa.Column("minor", sa.Integer, nullable=True),
)
items = sa.Table(
    "kinds_items",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("box_id", sa.Integer, sa.ForeignKey("kinds_boxes.id")),
    sa.Column("label", sa.String),
)

MIB = 2**20
FIELDS: dict[str, FieldResolver] = {
    "flag": bool_field(boxes.c.flag),
    "memory": int_field(boxes.c.size, MIB),
    "speed": number_field(boxes.c.speed),
    "version": version_field(boxes.c.major, boxes.c.minor),
    "rack": linked(via(boxes.c.rack_id, racks.c.id), text_field(racks.c.name)),
    "item": linked(via(boxes.c.id, items.c.box_id), text_field(items.c.label)),
    "pool": unsupported_field("pool"),
}


@pytest.fixture(scope="module")
def engine() -> Iterator[sa.Engine]:
    created = sa.create_engine("sqlite://", poolclass=sa.StaticPool)
    metadata.create_all(created)
    with created.begin() as conn:
        conn.execute(racks.insert(), [{"id": 1, "name": "r1"}, {"id": 2, "name": "r2"}])
        conn.execute(
            boxes.insert(),
            [
                dict(id=1, rack_id=1, flag=True, size=1024 * MIB, speed=2.5, major=4, minor=7),
                dict(id=2, rack_id=2, flag=False, size=512 * MIB, speed=1.0, major=4, minor=6),
                dict(id=3, rack_id=None, flag=None, size=None, speed=None, major=3, minor=9),
            ],
        )
        conn.execute(
            items.insert(),
            [{"id": 1, "box_id": 2, "label": "cable"}, {"id": 2, "box_id": None, "label": "loose"}],
        )
    yield created
    created.dispose()


def search(engine: sa.Engine, text: str) -> set[int]:
    condition = parse_search(text).condition
    assert condition is not None
    where = compile_condition(condition, FIELDS, case_sensitive=True)
    with engine.connect() as conn:
        return set(conn.scalars(sa.select(boxes.c.id).where(where)))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("flag=true", {1}),
        ("flag=TRUE", {1}),
        ("flag=false", {2, 3}),  # absent counts as false
        ("flag!=false", {1}),
    ],
)
def test_boolean_fields_take_true_or_false(
    engine: sa.Engine, text: str, expected: set[int]
) -> None:
    assert search(engine, text) == expected


@pytest.mark.parametrize("value", ["yes", "1", "*"])
def test_boolean_fields_refuse_other_values(value: str) -> None:
    with pytest.raises(InvalidInput, match="true or false"):
        FIELDS["flag"](Operator.EQ, value, True)


def test_boolean_fields_refuse_ordering() -> None:
    with pytest.raises(InvalidInput, match="use = or !="):
        FIELDS["flag"](Operator.GT, "true", True)


def test_integer_fields_count_in_their_unit(engine: sa.Engine) -> None:
    assert search(engine, "memory=1024") == {1}
    assert search(engine, "memory<1024") == {2}


def test_integer_fields_refuse_values_that_overflow_in_their_unit() -> None:
    with pytest.raises(InvalidInput, match="out of range"):
        FIELDS["memory"](Operator.EQ, str(2**62), True)


def test_number_fields_take_decimals(engine: sa.Engine) -> None:
    assert search(engine, "speed>1.5") == {1}
    assert search(engine, "speed<=1") == {2}
    with pytest.raises(InvalidInput, match="expected a number"):
        FIELDS["speed"](Operator.EQ, "fast", True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("version=4.7", {1}),
        ("version!=4.7", {2, 3}),
        ("version<4.7", {2, 3}),
        ("version<=4.6", {2, 3}),
        ("version>4.6", {1}),
        ("version>=3.9", {1, 2, 3}),
        ("version=4", {1, 2}),
        ("version>3", {1, 2}),
    ],
)
def test_version_fields_compare_major_then_minor(
    engine: sa.Engine, text: str, expected: set[int]
) -> None:
    assert search(engine, text) == expected


@pytest.mark.parametrize("value", ["4.7.1", "four", "4.", ""])
def test_version_fields_refuse_what_is_not_a_version(value: str) -> None:
    with pytest.raises(InvalidInput, match=r"version like 4\.7"):
        FIELDS["version"](Operator.EQ, value, True)


def test_links_carry_a_condition_across_tables(engine: sa.Engine) -> None:
    assert search(engine, "rack=r2") == {2}
    assert search(engine, "item=cable") == {2}
    assert search(engine, "item=none") == set()


def test_through_applies_links_outermost_first(engine: sa.Engine) -> None:
    racks_with_items = through(via(racks.c.id, boxes.c.rack_id), via(boxes.c.id, items.c.box_id))
    condition = racks_with_items(items.c.label == "cable")
    with engine.connect() as conn:
        assert set(conn.scalars(sa.select(racks.c.name).where(condition))) == {"r2"}


def test_unsupported_fields_are_refused_naming_the_field() -> None:
    with pytest.raises(InvalidInput, match="search field 'pool' is not supported"):
        compile_condition(Comparison("pool", Operator.EQ, "x"), FIELDS, case_sensitive=True)


def test_unknown_fields_list_plain_names_and_the_objects_reached_by_dots() -> None:
    fields = {"name": FIELDS["rack"], "host.name": FIELDS["rack"], "host.status": FIELDS["rack"]}
    with pytest.raises(InvalidInput, match=r"allowed: name; and <object>.<field> for: host$"):
        compile_condition(Comparison("colour", Operator.EQ, "x"), fields, case_sensitive=True)


def test_a_link_is_false_not_null_where_nothing_relates(engine: sa.Engine) -> None:
    # box 3 has no rack, and the loose item is in no box: negations must still hold
    not_in_r1 = sa.not_(FIELDS["rack"](Operator.EQ, "r1", True))
    without_cable = sa.not_(FIELDS["item"](Operator.EQ, "cable", True))
    without_loose = sa.not_(FIELDS["item"](Operator.EQ, "loose", True))
    with engine.connect() as conn:
        assert set(conn.scalars(sa.select(boxes.c.id).where(not_in_r1))) == {2, 3}
        assert set(conn.scalars(sa.select(boxes.c.id).where(without_cable))) == {1, 3}
        assert set(conn.scalars(sa.select(boxes.c.id).where(without_loose))) == {1, 2, 3}
