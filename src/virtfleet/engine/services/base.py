"""What every resource service shares: the list query, the scope of sub-collections, and the
generic document-backed service that concrete services specialise with small hooks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import ColumnElement, Connection, and_

from virtfleet.common.apimodel.base import ApiObject
from virtfleet.common.errors import InvalidInput, NotFound
from virtfleet.engine.persistence.database import Database
from virtfleet.engine.persistence.documents import DocumentRepository
from virtfleet.engine.services.merge import merge_update
from virtfleet.engine.services.search import SearchFields, compile_query, parse_search

T = TypeVar("T", bound=ApiObject)

MAX_PAGE = 10_000


@dataclass(frozen=True)
class ListQuery:
    """The parameters every collection accepts (``search``, ``max``, ``case_sensitive``...)."""

    search: str | None = None
    max: int | None = None
    case_sensitive: bool = True
    from_id: str | None = None
    current: bool = False
    """oVirt's ``current``: the running state (a console's live address) instead of the stored."""
    extra: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Scope:
    """Ids of the parents in the URL: ``/vms/{vm}/nics`` is ``Scope(("<vm id>",))``."""

    parents: tuple[str, ...] = ()

    @property
    def parent(self) -> str:
        if not self.parents:
            raise NotFound("This collection needs a parent object")
        return self.parents[-1]


ROOT = Scope()


@dataclass(frozen=True)
class Options:
    """Query parameters of add/remove calls (``async``, ``force``, ``clone``...)."""

    values: Mapping[str, str] = field(default_factory=dict)

    def flag(self, name: str, default: bool = False) -> bool:
        raw = self.values.get(name)
        if raw is None or raw == "":
            return default
        if raw.lower() in ("true", "1", "yes"):
            return True
        if raw.lower() in ("false", "0", "no"):
            return False
        raise InvalidInput(f"The parameter '{name}' must be true or false, not '{raw}'")


def one_listed(items: Iterable[T], object_id: str, missing: str) -> T:
    """The item of a computed collection (one not stored as rows) with ``object_id``."""
    for item in items:
        if item.id == object_id:
            return item
    raise NotFound(missing)


class ResourceService:
    """The operations a resource may support; routes are generated only for declared ones."""

    def list(self, scope: Scope, query: ListQuery) -> Sequence[ApiObject]:
        raise NotFound("This collection cannot be listed")

    def get(self, scope: Scope, object_id: str) -> ApiObject:
        raise NotFound(f"No object with id '{object_id}' here")

    def add(self, scope: Scope, obj: Any, options: Options) -> ApiObject:
        raise InvalidInput("Objects cannot be added to this collection")

    def update(self, scope: Scope, object_id: str, changes: Any) -> ApiObject:
        raise InvalidInput("This object cannot be updated")

    def list_children(
        self, parents: tuple[str, ...], ids: Sequence[str]
    ) -> Mapping[str, Sequence[ApiObject]]:
        """This sub-collection for each of several parents (``follow=``); one list per parent
        unless a service can do better."""
        return {parent: self.list(Scope((*parents, parent)), ListQuery()) for parent in ids}

    def get_many(self, ids: Sequence[str]) -> Mapping[str, ApiObject]:
        """Several top-level objects by id (references followed with ``follow=``)."""
        return {object_id: self.get(Scope(), object_id) for object_id in ids}

    def get_with_options(self, scope: Scope, object_id: str, options: Options) -> ApiObject:
        """``get`` with the query's options, for resources that take some (a VM's
        ``next_run``)."""
        return self.get(scope, object_id)

    def update_with_options(
        self, scope: Scope, object_id: str, changes: Any, options: Options
    ) -> ApiObject:
        return self.update(scope, object_id, changes)

    def remove(self, scope: Scope, object_id: str, options: Options) -> None:
        raise InvalidInput("This object cannot be removed")


def page_bounds(max_items: int | None, page: int | None) -> tuple[int | None, int]:
    """``max`` and a search's ``page N`` as SQL limit and offset."""
    if max_items is not None and max_items < 0:
        max_items = None  # oVirt treats -1 as "no limit"
    limit = min(max_items, MAX_PAGE) if max_items is not None else None
    if page is None or page <= 1:
        return limit, 0
    return limit, (page - 1) * (limit or 0)


class DocumentService(ResourceService, Generic[T]):
    """A collection stored in one document table.

    Subclasses set ``repo`` and ``search_fields`` and override the hooks they need:
    ``scope_filter`` (sub-collections), ``prepare_new``, ``prepare_update``, ``before_remove``,
    ``after_add``, ``after_remove``.
    """

    search_fields: ClassVar[SearchFields] = SearchFields({})
    immutable_fields: ClassVar[frozenset[str]] = frozenset({"id", "href"})

    def __init__(
        self,
        database: Database,
        repo: DocumentRepository[T],
        *,
        parent_column: str | None = None,
    ) -> None:
        self.db = database
        self.repo = repo
        self.parent_column = parent_column

    # --- hooks -----------------------------------------------------------------------------------

    def scope_filter(self, scope: Scope) -> ColumnElement[bool] | None:
        """Sub-collections see only the rows whose parent column holds the parent's id."""
        if self.parent_column is None:
            return None
        return self.repo.table.c[self.parent_column] == scope.parent

    def prepare_new(self, conn: Connection, scope: Scope, obj: T, options: Options) -> T:
        return obj

    def prepare_update(self, conn: Connection, scope: Scope, current: T, updated: T) -> T:
        return updated

    def before_remove(self, conn: Connection, scope: Scope, obj: T, options: Options) -> None:
        return None

    def after_add(self, conn: Connection, scope: Scope, obj: T) -> None:
        return None

    def after_remove(self, conn: Connection, scope: Scope, obj: T) -> None:
        return None

    def decorate(self, conn: Connection, obj: T) -> T:
        """Fill derived fields (live statistics, counts) just before an object is returned."""
        return obj

    # --- operations ------------------------------------------------------------------------------

    def list(self, scope: Scope, query: ListQuery) -> Sequence[T]:
        conditions: list[ColumnElement[bool]] = []
        scoped = self.scope_filter(scope)
        if scoped is not None:
            conditions.append(scoped)
        compiled = compile_query(
            parse_search(query.search or ""),
            self.search_fields,
            case_sensitive=query.case_sensitive,
        )
        if compiled.where is not None:
            conditions.append(compiled.where)
        limit, offset = page_bounds(query.max, compiled.page)
        where = and_(*conditions) if conditions else None
        with self.db.read() as conn:
            items = self.repo.query(
                conn, where, order_by=compiled.order_by, limit=limit, offset=offset
            )
            return [self.decorate(conn, item) for item in items]

    def get(self, scope: Scope, object_id: str) -> T:
        with self.db.read() as conn:
            return self.decorate(conn, self.get_in_scope(conn, scope, object_id))

    def list_children(
        self, parents: tuple[str, ...], ids: Sequence[str]
    ) -> Mapping[str, Sequence[ApiObject]]:
        """One query for every parent when the sub-collection is the rows of a parent column."""
        plain = type(self).scope_filter is DocumentService.scope_filter
        if self.parent_column is None or not plain:
            return super().list_children(parents, ids)
        found: dict[str, list[ApiObject]] = {parent: [] for parent in ids}
        with self.db.read() as conn:
            for parent, item in self.repo.query_by(conn, self.parent_column, ids):
                found[parent].append(self.decorate(conn, item))
        return found

    def get_many(self, ids: Sequence[str]) -> Mapping[str, ApiObject]:
        with self.db.read() as conn:
            items = self.repo.query(conn, self.repo.table.c.id.in_(list(ids)))
            return {str(item.id): self.decorate(conn, item) for item in items}

    def get_in_scope(self, conn: Connection, scope: Scope, object_id: str) -> T:
        obj = self.repo.get(conn, object_id)
        scoped = self.scope_filter(scope)
        if scoped is not None:
            found = self.repo.count(conn, scoped & (self.repo.table.c.id == object_id))
            if not found:
                raise NotFound(f"The {self.repo.what} with id '{object_id}' is not here")
        return obj

    def add(self, scope: Scope, obj: T, options: Options) -> T:
        with self.db.transaction() as conn:
            prepared = self.prepare_new(conn, scope, obj, options)
            self.repo.insert(conn, prepared)
            self.after_add(conn, scope, prepared)
            return self.decorate(conn, prepared)

    def refuse_immutable(self, object_id: str, changes: T) -> None:
        touched = changes.model_fields_set & self.immutable_fields
        touched = {f for f in touched if getattr(changes, f) not in (None, object_id)}
        if touched:
            raise InvalidInput(f"These fields cannot be changed: {', '.join(sorted(touched))}")

    def update(self, scope: Scope, object_id: str, changes: T) -> T:
        self.refuse_immutable(object_id, changes)
        with self.db.transaction() as conn:
            current = self.get_in_scope(conn, scope, object_id)
            version = self.repo.version_of(conn, object_id)
            updated = merge_update(current, changes)
            prepared = self.prepare_update(conn, scope, current, updated)
            self.repo.save(conn, prepared, expected_version=version)
            return self.decorate(conn, prepared)

    def remove(self, scope: Scope, object_id: str, options: Options) -> None:
        with self.db.transaction() as conn:
            obj = self.get_in_scope(conn, scope, object_id)
            self.before_remove(conn, scope, obj, options)
            self.repo.delete(conn, object_id)
            self.after_remove(conn, scope, obj)
