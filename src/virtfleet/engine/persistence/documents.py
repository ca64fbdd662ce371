"""A typed repository over a document table: rows in and out as API model objects."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    ColumnElement,
    Connection,
    Table,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from virtfleet.common.apimodel.base import ApiObject
from virtfleet.common.errors import Conflict, NotFound

T = TypeVar("T", bound=ApiObject)

# Fields never stored in documents: they are derived when an object is rendered.
_DERIVED = {"href"}

# Versions of the rows this transaction has read, so that a compare-and-swap expects exactly
# the version of the document it was decided from (``Database`` clears it when a transaction
# begins). Without it, a read and a later version lookup could see two different commits.
SEEN_VERSIONS = "virtfleet.seen_versions"


def _seen(conn: Connection) -> dict[tuple[str, str], int]:
    seen = conn.info.get(SEEN_VERSIONS)
    if seen is None:
        seen = conn.info[SEEN_VERSIONS] = {}
    return seen


Extractor = Callable[[Any], Any]


def ref_id(field: str) -> Extractor:
    """Column value taken from a nested reference's id (``vm.cluster.id``)."""

    def extract(obj: Any) -> Any:
        nested = getattr(obj, field)
        return None if nested is None else nested.id

    return extract


def attr(path: str) -> Extractor:
    """Column value taken from a (possibly dotted) field path; enums are stored by value."""

    def extract(obj: Any) -> Any:
        value = obj
        for part in path.split("."):
            value = getattr(value, part, None)
            if value is None:
                return None
        return getattr(value, "value", value)

    return extract


class DocumentRepository(Generic[T]):
    """Rows of one document table as objects of one API type.

    A constraint violation becomes Conflict and ends the caller's transaction: no savepoint is
    taken per write (they cost as much as the write), so callers never continue after one.

    ``columns`` maps each extra column to the way its value is derived from the object, so the
    searchable columns can never disagree with the document.
    """

    def __init__(
        self,
        table: Table,
        model: type[T],
        columns: Mapping[str, Extractor] | None = None,
        *,
        what: str | None = None,
    ) -> None:
        self.table = table
        self.model = model
        self.columns = {"name": attr("name"), "status": attr("status"), **(columns or {})}
        self.what = what or model.xml_tag.replace("_", " ")
        # the statements every read and write of one object runs, built once: building them
        # cost as much as running them
        c = table.c
        self._find = select(c.doc, c.version).where(c.id == bindparam("_id"))
        written = {
            name: bindparam(f"_{name}", type_=c[name].type) for name in [*self.columns, "doc"]
        }
        self._save = (
            update(table)
            .where(c.id == bindparam("_id"))
            .values(version=c.version + 1, **written)
            .returning(c.version)
        )
        self._swap = self._save.where(c.version == bindparam("_expected"))

    # --- mapping ---------------------------------------------------------------------------------

    def _values(self, obj: T) -> dict[str, Any]:
        values = {col: extract(obj) for col, extract in self.columns.items()}
        values["name"] = values.get("name") or ""
        values["doc"] = obj.model_dump(mode="json", exclude_none=True, exclude=_DERIVED)
        return values

    def to_model(self, row: Any) -> T:
        return self.model.model_validate(row.doc)

    # --- reads -----------------------------------------------------------------------------------

    def find(self, conn: Connection, object_id: str) -> T | None:
        row = conn.execute(self._find, {"_id": object_id}).first()
        if row is None:
            return None
        _seen(conn)[(self.table.name, object_id)] = int(row.version)
        return self.to_model(row)

    def get(self, conn: Connection, object_id: str) -> T:
        obj = self.find(conn, object_id)
        if obj is None:
            raise NotFound(f"The {self.what} with id '{object_id}' does not exist")
        return obj

    def version_of(self, conn: Connection, object_id: str) -> int:
        """The version this transaction last read or wrote, else the current one."""
        seen = _seen(conn).get((self.table.name, object_id))
        if seen is not None:
            return seen
        row = conn.execute(select(self.table.c.version).where(self.table.c.id == object_id)).first()
        if row is None:
            raise NotFound(f"The {self.what} with id '{object_id}' does not exist")
        return int(row.version)

    def find_by_name(self, conn: Connection, name: str) -> T | None:
        rows = self.query(conn, self.table.c.name == name, limit=2)
        return rows[0] if rows else None

    def query(
        self,
        conn: Connection,
        where: ColumnElement[bool] | None = None,
        *,
        order_by: Sequence[ColumnElement[Any]] = (),
        limit: int | None = None,
        offset: int = 0,
    ) -> list[T]:
        columns = self.table.c
        statement = select(columns.doc, columns.id, columns.version)
        if where is not None:
            statement = statement.where(where)
        statement = statement.order_by(*order_by, columns.name, columns.id)
        if limit is not None:
            statement = statement.limit(limit)
        if offset:
            statement = statement.offset(offset)
        rows = conn.execute(statement).all()
        seen = _seen(conn)
        for row in rows:
            seen[(self.table.name, row.id)] = int(row.version)
        return [self.to_model(row) for row in rows]

    def query_by(self, conn: Connection, column: str, values: Sequence[str]) -> list[tuple[str, T]]:
        """The rows whose ``column`` is one of ``values``, each with that column's value."""
        columns = self.table.c
        statement = (
            select(columns.doc, columns.id, columns.version, columns[column].label("key"))
            .where(columns[column].in_(list(values)))
            .order_by(columns.name, columns.id)
        )
        rows = conn.execute(statement).all()
        seen = _seen(conn)
        for row in rows:
            seen[(self.table.name, row.id)] = int(row.version)
        return [(str(row.key), self.to_model(row)) for row in rows]

    def count(self, conn: Connection, where: ColumnElement[bool] | None = None) -> int:
        statement = select(func.count()).select_from(self.table)
        if where is not None:
            statement = statement.where(where)
        return int(conn.execute(statement).scalar_one())

    # --- writes ----------------------------------------------------------------------------------

    def insert(self, conn: Connection, obj: T, **extra: Any) -> T:
        values = self._values(obj) | extra
        values.update(id=obj.id, version=1, created_at=datetime.now(UTC))
        try:
            conn.execute(insert(self.table).values(**values))
        except IntegrityError:
            raise Conflict(
                f"A {self.what} named '{obj.name}' already exists, or it refers to an object "
                "that does not exist"
            ) from None
        return obj

    def save(
        self, conn: Connection, obj: T, *, expected_version: int | None = None, **extra: Any
    ) -> int:
        """Write the object back; with ``expected_version`` it is a compare-and-swap.

        Returns the new version. A lost race raises Conflict, so two actors can never both
        believe they moved the same object.
        """
        assert obj.id is not None
        try:
            version = self._write(conn, obj, expected_version, extra)
        except IntegrityError:
            raise Conflict(f"A {self.what} named '{obj.name}' already exists") from None
        if version is None:
            _seen(conn).pop((self.table.name, obj.id), None)
            if expected_version is not None and self.find(conn, obj.id) is not None:
                _seen(conn).pop((self.table.name, obj.id), None)
                raise Conflict(f"The {self.what} '{obj.name}' was changed by another operation")
            raise NotFound(f"The {self.what} with id '{obj.id}' does not exist")
        _seen(conn)[(self.table.name, obj.id)] = int(version)
        return int(version)

    def _write(
        self, conn: Connection, obj: T, expected_version: int | None, extra: Mapping[str, Any]
    ) -> int | None:
        """The update of ``save``: the new version, None when no row matched."""
        values = self._values(obj)
        if extra:  # columns of this table's own (a password hash): a statement of their own
            statement = update(self.table).where(self.table.c.id == obj.id)
            if expected_version is not None:
                statement = statement.where(self.table.c.version == expected_version)
            values |= dict(extra, version=self.table.c.version + 1)
            return conn.execute(
                statement.values(**values).returning(self.table.c.version)
            ).scalar_one_or_none()
        params = {f"_{name}": value for name, value in values.items()}
        params["_id"] = obj.id
        if expected_version is None:
            return conn.execute(self._save, params).scalar_one_or_none()
        params["_expected"] = expected_version
        return conn.execute(self._swap, params).scalar_one_or_none()

    def delete(self, conn: Connection, object_id: str) -> None:
        try:
            result = conn.execute(delete(self.table).where(self.table.c.id == object_id))
        except IntegrityError:
            raise Conflict(
                f"The {self.what} with id '{object_id}' is still used by other objects"
            ) from None
        if result.rowcount != 1:
            raise NotFound(f"The {self.what} with id '{object_id}' does not exist")

    def column(self, conn: Connection, object_id: str, name: str) -> Any:
        row = conn.execute(select(self.table.c[name]).where(self.table.c.id == object_id)).first()
        if row is None:
            raise NotFound(f"The {self.what} with id '{object_id}' does not exist")
        return row[0]
