"""Compile search ASTs into SQLAlchemy Core conditions that SQLite and PostgreSQL both accept.

Each collection maps its searchable field names to a ``FieldResolver`` built by the factories
here; values are always bound parameters, never spliced into SQL text.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    String,
    and_,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement, UnaryExpression
from sqlalchemy.sql.visitors import InternalTraversal

from virtfleet.common.errors import InvalidInput
from virtfleet.engine.services.search.ast import And, Comparison, Expr, Operator, SearchQuery, Sort

WILDCARD = "*"
_LIKE_ESCAPE = "\\"
_INT_RE = re.compile(r"[+-]?[0-9]{1,19}")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_DECIMAL_RE = re.compile(r"[+-]?[0-9]{1,18}(?:\.[0-9]{1,9})?")
_VERSION_RE = re.compile(r"([0-9]{1,9})(?:\.([0-9]{1,9}))?")
_BOOLEANS = {"true": True, "false": False}
_T = TypeVar("_T")
_PYTHON_OPERATORS = {
    Operator.EQ: operator.eq,
    Operator.NE: operator.ne,
    Operator.LT: operator.lt,
    Operator.GT: operator.gt,
    Operator.LE: operator.le,
    Operator.GE: operator.ge,
}


class FieldResolver(Protocol):
    """Turns one ``field op value`` comparison into a SQL condition for one searchable field."""

    def __call__(self, op: Operator, value: str, case_sensitive: bool) -> ColumnElement[bool]: ...


@dataclass(frozen=True)
class SortableField:
    """A field that is a value of the searched row itself: ``sortby`` orders by ``sort_keys``."""

    resolve: FieldResolver
    sort_keys: tuple[ColumnElement[Any], ...]

    def __call__(self, op: Operator, value: str, case_sensitive: bool) -> ColumnElement[bool]:
        return self.resolve(op, value, case_sensitive)


class SearchFields(Mapping[str, FieldResolver]):
    """A collection's searchable names with the prefixes (``Vms:``) its queries may start with;
    the prefixes are oVirt's search object names in upper case, matched case-insensitively."""

    def __init__(self, fields: Mapping[str, FieldResolver], prefixes: Iterable[str] = ()) -> None:
        self._fields = dict(fields)
        self.prefixes = tuple(prefixes)

    def __getitem__(self, name: str) -> FieldResolver:
        return self._fields[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)


class _CaseSensitiveWildcard(ColumnElement[bool]):
    """Case-sensitive ``*`` match: SQLite's LIKE ignores case, so SQLite gets GLOB instead."""

    inherit_cache = True
    type = Boolean()
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("like_pattern", InternalTraversal.dp_clauseelement),
        ("glob_pattern", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: ColumnElement[str], value: str) -> None:
        self.column = column
        self.like_pattern = literal(like_pattern(value), String())
        self.glob_pattern = literal(glob_pattern(value), String())


@compiles(_CaseSensitiveWildcard)
def _compile_wildcard(element: _CaseSensitiveWildcard, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column.like(element.like_pattern, escape=_LIKE_ESCAPE), **kw)


@compiles(_CaseSensitiveWildcard, "sqlite")
def _compile_wildcard_sqlite(
    element: _CaseSensitiveWildcard, compiler: SQLCompiler, **kw: Any
) -> str:
    return compiler.process(element.column.op("GLOB")(element.glob_pattern), **kw)


def like_pattern(value: str) -> str:
    """LIKE pattern (escape character backslash) where only ``*`` is a wildcard."""
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace(WILDCARD, "%")


def glob_pattern(value: str) -> str:
    """SQLite GLOB pattern where only ``*`` is a wildcard."""
    return value.replace("[", "[[]").replace("?", "[?]")


def _compare(left: ColumnElement[Any], op: Operator, right: Any) -> ColumnElement[bool]:
    condition: ColumnElement[bool] = _PYTHON_OPERATORS[op](left, right)
    return condition


def text_field(column: ColumnElement[str]) -> FieldResolver:
    """Text: ``*`` is a wildcard for = and !=; < and > compare lexically."""

    def resolve(op: Operator, value: str, case_sensitive: bool) -> ColumnElement[bool]:
        bound = literal(value, String())
        if op in (Operator.EQ, Operator.NE) and WILDCARD in value:
            if case_sensitive:
                matched: ColumnElement[bool] = _CaseSensitiveWildcard(column, value)
            else:
                pattern = func.lower(literal(like_pattern(value), String()))
                matched = func.lower(column).like(pattern, escape=_LIKE_ESCAPE)
            return matched if op is Operator.EQ else not_(matched)
        if case_sensitive:
            return _compare(column, op, bound)
        return _compare(func.lower(column), op, func.lower(bound))

    return SortableField(resolve, (column,))


def parse_int(value: str) -> int:
    """A 64-bit integer search value, or InvalidInput."""
    if not _INT_RE.fullmatch(value):
        raise InvalidInput(f"Invalid search value '{value}': expected an integer")
    number = int(value)
    if not _INT64_MIN <= number <= _INT64_MAX:
        raise InvalidInput(f"Invalid search value '{value}': integer out of range")
    return number


def int_field(column: ColumnElement[int], unit: int = 1) -> FieldResolver:
    """Integer: every operator; the value must be a decimal integer, counted in ``unit``s of the
    column (oVirt searches memory in MiB and storage space in GiB where virtfleet keeps bytes)."""

    bits = 64 if isinstance(column.type, BigInteger) else 32

    def resolve(op: Operator, value: str, case_sensitive: bool) -> ColumnElement[bool]:
        number = parse_int(value) * unit
        if not -(2 ** (bits - 1)) <= number < 2 ** (bits - 1):
            raise InvalidInput(f"Invalid search value '{value}': integer out of range")
        return _compare(column, op, number)

    return SortableField(resolve, (column,))


def number_field(column: ColumnElement[float]) -> FieldResolver:
    """Decimal number (CPU speed): every operator; the value must be a decimal number."""

    def resolve(op: Operator, value: str, case_sensitive: bool) -> ColumnElement[bool]:
        if not _DECIMAL_RE.fullmatch(value):
            raise InvalidInput(f"Invalid search value '{value}': expected a number")
        return _compare(column, op, float(value))

    return SortableField(resolve, (column,))


def bool_field(column: ColumnElement[bool], default: bool = False) -> FieldResolver:
    """Boolean: = and != with ``true`` or ``false`` in any case; an absent value is ``default``."""

    stored = func.coalesce(column, literal(default, Boolean()))

    def resolve(op: Operator, value: str, case_sensitive: bool) -> ColumnElement[bool]:
        _equality_only(op)
        wanted = _BOOLEANS.get(value.lower())
        if wanted is None:
            raise InvalidInput(f"Invalid search value '{value}': expected true or false")
        return stored == wanted if op is Operator.EQ else stored != wanted

    return SortableField(resolve, (stored,))


def version_field(major: ColumnElement[int], minor: ColumnElement[int]) -> FieldResolver:
    """A compatibility version ``4.7`` (or ``4``): every operator, compared part by part."""

    def resolve(op: Operator, value: str, case_sensitive: bool) -> ColumnElement[bool]:
        match = _VERSION_RE.fullmatch(value)
        if match is None:
            raise InvalidInput(f"Invalid search value '{value}': expected a version like 4.7")
        wanted_major = int(match.group(1))
        if match.group(2) is None:
            return _compare(major, op, wanted_major)
        wanted_minor = int(match.group(2))
        same = and_(major == wanted_major, minor == wanted_minor)
        match op:
            case Operator.EQ:
                return same
            case Operator.NE:
                return not_(same)
            case Operator.LT | Operator.LE:
                below = or_(major < wanted_major, and_(major == wanted_major, minor < wanted_minor))
                return below if op is Operator.LT else or_(below, same)
            case Operator.GT | Operator.GE:
                above = or_(major > wanted_major, and_(major == wanted_major, minor > wanted_minor))
                return above if op is Operator.GT else or_(above, same)

    return SortableField(resolve, (major, minor))


def unsupported_field(name: str) -> FieldResolver:
    """A field oVirt's search knows but virtfleet holds no data for: refused, never ignored."""

    def resolve(op: Operator, value: str, case_sensitive: bool) -> ColumnElement[bool]:
        raise InvalidInput(
            f"The search field '{name}' is not supported: virtfleet keeps no data for it"
        )

    return resolve


def _enum_key(name: str) -> str:
    """oVirt spells enum values both ways (``PoweringUp``, ``powering_up``): compare them folded."""
    return name.lower().replace("_", "")


def _equality_only(op: Operator) -> None:
    if op not in (Operator.EQ, Operator.NE):
        raise InvalidInput(f"Invalid search operator '{op.value}': use = or != here")


def enum_field(
    column: ColumnElement[str], allowed: Iterable[str], aliases: Mapping[str, str] | None = None
) -> FieldResolver:
    """Enumerated text (statuses): = and != only, value one of ``allowed`` in any case;
    ``aliases`` are other names for allowed values (oVirt's ``MigratingTo`` for ``migrating``)."""
    canonical = {_enum_key(name): name for name in allowed}
    choices = ", ".join(sorted(canonical.values()))
    canonical.update({_enum_key(other): name for other, name in (aliases or {}).items()})

    def resolve(op: Operator, value: str, case_sensitive: bool) -> ColumnElement[bool]:
        _equality_only(op)
        wanted = _enum_key(value)
        if WILDCARD in wanted:
            regex = re.compile(".*".join(re.escape(part) for part in wanted.split(WILDCARD)))
            names = sorted({name for key, name in canonical.items() if regex.fullmatch(key)})
        else:
            names = [canonical[wanted]] if wanted in canonical else []
        if not names:
            raise InvalidInput(f"Invalid search value '{value}': expected one of {choices}")
        matched = column == names[0] if len(names) == 1 else column.in_(names)
        return matched if op is Operator.EQ else not_(matched)

    return SortableField(resolve, (column,))


def parse_datetime(value: str) -> datetime:
    """An ISO 8601 date or date-time; zoned values are converted to UTC, naive ones are UTC."""
    try:
        parsed = datetime.fromisoformat(value)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise InvalidInput(f"Invalid search value '{value}': expected an ISO 8601 date") from None


def _is_date_only(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def datetime_field(column: ColumnElement[datetime]) -> FieldResolver:
    """Date-time: every operator; a bare date (``2024-05-01``) stands for that whole UTC day."""
    zoned = bool(getattr(column.type, "timezone", False))

    def bind(moment: datetime) -> datetime:
        return moment if zoned else moment.replace(tzinfo=None)

    def resolve(op: Operator, value: str, case_sensitive: bool) -> ColumnElement[bool]:
        start = parse_datetime(value)
        if not _is_date_only(value):
            return _compare(column, op, bind(start))
        if start.date() == date.max:
            raise InvalidInput(f"Invalid search value '{value}': date out of range")
        end = bind(start + timedelta(days=1))
        first = bind(start)
        match op:
            case Operator.EQ:
                return and_(column >= first, column < end)
            case Operator.NE:
                return or_(column < first, column >= end)
            case Operator.LT:
                return column < first
            case Operator.GE:
                return column >= first
            case Operator.GT:
                return column >= end
            case Operator.LE:
                return column < end

    return SortableField(resolve, (column,))


Link = Callable[[ColumnElement[bool]], ColumnElement[bool]]
"""Turns a condition on another table's rows into one on this table's rows (a cross-reference)."""


def via(fk_column: ColumnElement[Any], target_id_column: Column[Any]) -> Link:
    """Rows whose ``fk_column`` is the id (or key) of a matching row of the other table."""

    def link(condition: ColumnElement[bool]) -> ColumnElement[bool]:
        # the other table is read afresh even where an enclosing query reads it too
        # false, never NULL, where nothing relates (no NULL on either side of IN), so that
        # a negation of it holds
        inner = select(target_id_column).where(target_id_column.is_not(None), condition)
        matched = fk_column.in_(inner.correlate_except(target_id_column.table))
        return and_(fk_column.is_not(None), matched)

    return link


def through(*links: Link) -> Link:
    """Several links one after another: ``through(vm_to_disk, disk_to_domain)``."""

    def link(condition: ColumnElement[bool]) -> ColumnElement[bool]:
        for step in reversed(links):
            condition = step(condition)
        return condition

    return link


def linked(link: Link, target_resolver: FieldResolver) -> FieldResolver:
    """A field of another object reached through ``link``."""

    def resolve(op: Operator, value: str, case_sensitive: bool) -> ColumnElement[bool]:
        return link(target_resolver(op, value, case_sensitive))

    return resolve


def related_field(
    fk_column: ColumnElement[Any],
    target_id_column: Column[Any],
    target_resolver: FieldResolver,
) -> FieldResolver:
    """A field of another object (``cluster``, ``host.name``) reached through a foreign key."""
    return linked(via(fk_column, target_id_column), target_resolver)


def aliases(names: Iterable[str], resolver: FieldResolver) -> dict[str, FieldResolver]:
    """One field under the several names oVirt accepts (``cluster``, ``cluster.name``...)."""
    return dict.fromkeys(names, resolver)


def _lookup(mapping: Mapping[str, _T], name: str, what: str) -> _T:
    found = {key.lower(): item for key, item in mapping.items()}.get(name.lower())
    if found is None:
        raise InvalidInput(f"Unknown {what} '{name}'; allowed: {_allowed(mapping)}")
    return found


def _allowed(mapping: Mapping[str, object]) -> str:
    """The names a fault lists: plain fields, then the objects whose fields ``obj.field`` reach."""
    keys = {key.lower() for key in mapping}
    plain = ", ".join(sorted(key for key in keys if "." not in key)) or "none"
    objects = sorted({key.split(".", 1)[0] for key in keys if "." in key})
    return plain + (f"; and <object>.<field> for: {', '.join(objects)}" if objects else "")


def compile_condition(
    expr: Expr, fields: Mapping[str, FieldResolver], *, case_sensitive: bool
) -> ColumnElement[bool]:
    """SQL condition for ``expr``; field names are matched case-insensitively."""
    if isinstance(expr, Comparison):
        resolver = _lookup(fields, expr.field, "search field")
        return resolver(expr.op, expr.value, case_sensitive)
    parts = [compile_condition(item, fields, case_sensitive=case_sensitive) for item in expr.items]
    if isinstance(expr, And):
        return and_(*parts) if parts else true()
    return or_(*parts) if parts else false()


def sortable_names(fields: Mapping[str, FieldResolver]) -> list[str]:
    """The names ``sortby`` accepts: fields that are values of the searched row itself."""
    return sorted(name for name, field in fields.items() if isinstance(field, SortableField))


def compile_sort(sort: Sort, fields: Mapping[str, FieldResolver]) -> list[UnaryExpression[Any]]:
    """ORDER BY elements for ``sortby``; a field of a related object or one without data is
    refused naming it, as is an unknown one."""
    allowed = ", ".join(sortable_names(fields)) or "none"
    field = {key.lower(): item for key, item in fields.items()}.get(sort.field.lower())
    if field is None:
        raise InvalidInput(f"Unknown sort field '{sort.field}'; allowed: {allowed}")
    if not isinstance(field, SortableField):
        raise InvalidInput(
            f"The search field '{sort.field}' cannot be used with sortby; allowed: {allowed}"
        )
    return [key.desc() if sort.descending else key.asc() for key in field.sort_keys]


def check_prefix(prefix: str | None, fields: Mapping[str, FieldResolver]) -> None:
    """Refuse a query prefix (``Hosts:``) that names another collection than the one searched."""
    if prefix is None:
        return
    accepted = fields.prefixes if isinstance(fields, SearchFields) else ()
    if prefix.upper() not in accepted:
        expected = " or ".join(f"'{name}:'" for name in accepted) or "no prefix"
        raise InvalidInput(
            f"The search prefix '{prefix}:' does not name this collection; expected {expected}"
        )


@dataclass(frozen=True)
class CompiledQuery:
    """A whole query for one collection: its condition (None: every row), order and page."""

    where: ColumnElement[bool] | None
    order_by: list[UnaryExpression[Any]]
    page: int | None


def compile_query(
    query: SearchQuery, fields: Mapping[str, FieldResolver], *, case_sensitive: bool
) -> CompiledQuery:
    """Check the prefix against the collection, then compile the condition and the sort."""
    check_prefix(query.prefix, fields)
    where = None
    if query.condition is not None:
        where = compile_condition(query.condition, fields, case_sensitive=case_sensitive)
    order = [] if query.sort is None else compile_sort(query.sort, fields)
    return CompiledQuery(where, order, query.page)
