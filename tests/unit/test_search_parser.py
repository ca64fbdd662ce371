"""The search-language parser: each construct scripts use, its errors, and round-trips."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from virtfleet.common.errors import InvalidInput
from virtfleet.engine.services.search import (
    MAX_LENGTH,
    And,
    Comparison,
    Expr,
    Operator,
    Or,
    SearchQuery,
    Sort,
    parse_search,
    render,
)
from virtfleet.engine.services.search.parser import KEYWORDS, MAX_DEPTH, MAX_TERMS


def eq(field: str, value: str) -> Comparison:
    return Comparison(field, Operator.EQ, value)


def condition(text: str) -> Expr | None:
    return parse_search(text).condition


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name=myvm", eq("name", "myvm")),
        ("name=web*", eq("name", "web*")),
        ("status=up", eq("status", "up")),
        ("cluster=Default", eq("cluster", "Default")),
        ("Storage.name=data1", eq("storage.name", "data1")),
        ("Clusters.name=X", eq("clusters.name", "X")),
        ("host.name=h-1.example.com", eq("host.name", "h-1.example.com")),
        ("usrname=admin@internal", eq("usrname", "admin@internal")),
    ],
)
def test_documented_examples_parse_to_one_comparison(text: str, expected: Comparison) -> None:
    assert condition(text) == expected


@pytest.mark.parametrize(
    ("text", "op"),
    [
        ("memory=1", Operator.EQ),
        ("memory!=1", Operator.NE),
        ("memory<1", Operator.LT),
        ("memory>1", Operator.GT),
        ("memory<=1", Operator.LE),
        ("memory>=1", Operator.GE),
        ("memory >= 1", Operator.GE),
    ],
)
def test_every_operator_is_recognised(text: str, op: Operator) -> None:
    assert condition(text) == Comparison("memory", op, "1")


def test_field_names_are_lower_cased_but_values_keep_their_case() -> None:
    assert condition("NAME=MyVm") == eq("name", "MyVm")


def test_or_binds_looser_than_and() -> None:
    assert condition("name=a and status=up or status=down") == Or(
        (And((eq("name", "a"), eq("status", "up"))), eq("status", "down"))
    )


def test_adjacent_terms_are_anded() -> None:
    assert condition("name=a status=up") == And((eq("name", "a"), eq("status", "up")))


def test_keywords_are_case_insensitive() -> None:
    query = parse_search("name=a AND status=up OR status=down SORTBY Name DESC PAGE 3")
    assert query == parse_search("name=a and status=up or status=down sortby name desc page 3")


def test_parentheses_group_before_and() -> None:
    assert condition("(name=a or name=b) and status=up") == And(
        (Or((eq("name", "a"), eq("name", "b"))), eq("status", "up"))
    )


def test_redundant_parentheses_vanish() -> None:
    assert condition("((name=a))") == eq("name", "a")


def test_free_text_means_name_equals() -> None:
    assert condition("mycluster") == eq("name", "mycluster")


def test_quoted_free_text_may_hold_spaces_and_keywords() -> None:
    assert condition('"and or"') == eq("name", "and or")


def test_quoted_values_keep_spaces_operators_and_escapes() -> None:
    assert condition(r'description="a \"quoted\" (x=1) \\ path"') == eq(
        "description", r'a "quoted" (x=1) \ path'
    )


def test_quoted_empty_string_is_a_value() -> None:
    assert condition('name=""') == eq("name", "")


def test_bare_values_allow_punctuation() -> None:
    assert condition("created>2024-05-01T10:00:00+02:00") == Comparison(
        "created", Operator.GT, "2024-05-01T10:00:00+02:00"
    )


def test_sortby_defaults_to_ascending() -> None:
    assert parse_search("sortby name").sort == Sort("name", descending=False)


def test_sortby_with_direction() -> None:
    assert parse_search("sortby name asc").sort == Sort("name", descending=False)
    assert parse_search("status=up sortby Memory desc").sort == Sort("memory", descending=True)


def test_page_number() -> None:
    query = parse_search("page 2")
    assert (query.condition, query.page) == (None, 2)


def test_page_may_come_before_sortby() -> None:
    assert parse_search("page 2 sortby name") == SearchQuery(sort=Sort("name"), page=2)


def test_entity_prefix_is_returned() -> None:
    assert parse_search("Vms: name=x") == SearchQuery(prefix="Vms", condition=eq("name", "x"))
    assert parse_search("Hosts:") == SearchQuery(prefix="Hosts")


@pytest.mark.parametrize("text", ["", "   ", "\t\n"])
def test_blank_query_has_no_condition(text: str) -> None:
    assert parse_search(text) == SearchQuery()


@pytest.mark.parametrize(
    ("text", "position", "expected"),
    [
        ("name=", 6, "a value after '='"),
        ("name=and", 6, "a value after '='"),
        ("(name=a", 8, "')'"),
        ("name=a)", 7, "end of input"),
        ("name!a", 5, "'=' after '!'"),
        ('name="abc', 6, "closing"),
        (r'name="a\n"', 8, "backslash"),
        ("1x=3", 1, "field name"),
        ("name=a or", 10, "a term"),
        ("and name=a", 1, "a term"),
        ("sortby", 7, "field name after 'sortby'"),
        ("sortby name x", 13, "'page'"),
        ("page", 5, "page number"),
        ("page two", 6, "page number"),
        ("page 0", 6, "from 1"),
        ("page 99999999999999999", 6, "from 1"),
        ("page 1 page 2", 8, "'sortby'"),
    ],
)
def test_malformed_queries_name_position_and_expectation(
    text: str, position: int, expected: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_search(text)
    assert f"position {position}:" in caught.value.detail
    assert expected in caught.value.detail


def test_overlong_query_is_refused() -> None:
    with pytest.raises(InvalidInput, match="longer than"):
        parse_search("a" * (MAX_LENGTH + 1))


def test_deep_nesting_is_refused() -> None:
    depth = MAX_DEPTH + 1
    with pytest.raises(InvalidInput, match="nest deeper"):
        parse_search("(" * depth + "a" + ")" * depth)


def test_nesting_up_to_the_limit_is_accepted() -> None:
    assert condition("(" * MAX_DEPTH + "a" + ")" * MAX_DEPTH) == eq("name", "a")


def test_too_many_terms_are_refused() -> None:
    with pytest.raises(InvalidInput, match="terms"):
        parse_search(" ".join(["a"] * (MAX_TERMS + 1)))


def test_render_quotes_what_a_bare_word_cannot_hold() -> None:
    query = SearchQuery(
        condition=And((eq("name", "my vm"), eq("description", 'say "hi"'), eq("os", "and")))
    )
    assert render(query) == r'name="my vm" and description="say \"hi\"" and os="and"'


def test_render_parenthesises_nested_groups() -> None:
    query = SearchQuery(condition=And((Or((eq("name", "a"), eq("name", "b"))), eq("x", "1"))))
    assert render(query) == "(name=a or name=b) and x=1"


# Property tests ------------------------------------------------------------------------------

_FRAGMENTS = st.sampled_from(
    [
        "name", "Status", "host.name", "=", "!=", "<", ">=", "!", "(", ")", '"', "\\", " ",
        "and", "OR", "sortby", "page", "asc", "desc", "2", "0", "web*", "Vms:", ":", "é", "\t",
    ]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_raises_nothing_but_invalid_input(text: str) -> None:
    with contextlib.suppress(InvalidInput):
        parse_search(text)


@settings(max_examples=300, deadline=None)
@given(st.lists(_FRAGMENTS, max_size=30).map("".join))
def test_near_grammatical_text_raises_nothing_but_invalid_input(text: str) -> None:
    try:
        query = parse_search(text)
    except InvalidInput:
        return
    assert parse_search(render(query)) == query


_FIELD = st.from_regex(r"[a-z_][a-z0-9_]{0,8}(\.[a-z_][a-z0-9_]{0,8})?", fullmatch=True).filter(
    lambda name: name not in KEYWORDS
)
_VALUE = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["and", "OR", "page", "sortby", "asc", "web*", "", "a b", '"', "\\"]),
)
_COMPARISON = st.builds(Comparison, _FIELD, st.sampled_from(list(Operator)), _VALUE)
_EXPR: st.SearchStrategy[Expr] = st.recursive(
    _COMPARISON,
    lambda children: st.one_of(
        st.lists(children, min_size=2, max_size=3).map(lambda items: And(tuple(items))),
        st.lists(children, min_size=2, max_size=3).map(lambda items: Or(tuple(items))),
    ),
    max_leaves=8,
)
_QUERY = st.builds(
    SearchQuery,
    prefix=st.none() | st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,8}", fullmatch=True),
    condition=st.none() | _EXPR,
    sort=st.none() | st.builds(Sort, _FIELD, st.booleans()),
    page=st.none() | st.integers(min_value=1, max_value=10**9),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_QUERY)
def test_rendered_queries_parse_back_to_the_same_tree(query: SearchQuery) -> None:
    assert parse_search(render(query)) == query
