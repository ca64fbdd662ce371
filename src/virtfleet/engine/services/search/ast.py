"""Syntax tree of a search query: immutable values the parser builds and the compiler reads."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Operator(enum.Enum):
    """Comparison operators; each value is its spelling in a query."""

    EQ = "="
    NE = "!="
    LT = "<"
    GT = ">"
    LE = "<="
    GE = ">="


@dataclass(frozen=True)
class Comparison:
    """``field op value``; ``field`` is lower-cased and may be dotted (``storage.name``)."""

    field: str
    op: Operator
    value: str


@dataclass(frozen=True)
class And:
    """All of ``items`` hold (at least two items)."""

    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Or:
    """At least one of ``items`` holds (at least two items)."""

    items: tuple[Expr, ...]


Expr = Comparison | And | Or


@dataclass(frozen=True)
class Sort:
    """``sortby field [asc|desc]``; ``field`` is lower-cased."""

    field: str
    descending: bool = False


@dataclass(frozen=True)
class SearchQuery:
    """A whole query; ``condition`` None means every row matches."""

    prefix: str | None = None
    condition: Expr | None = None
    sort: Sort | None = None
    page: int | None = None
