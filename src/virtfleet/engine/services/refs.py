"""Resolving the references clients send (``<cluster><name>Default</name></cluster>`` or an id)."""

from __future__ import annotations

import uuid
from typing import TypeVar

from sqlalchemy import Connection

from virtfleet.common.apimodel.base import ApiObject
from virtfleet.common.errors import InvalidInput, NotFound
from virtfleet.engine.persistence.documents import DocumentRepository

T = TypeVar("T", bound=ApiObject)


def new_id() -> str:
    return str(uuid.uuid4())


def resolve(
    conn: Connection, repo: DocumentRepository[T], ref: ApiObject | None, *, field: str
) -> T:
    """The object a reference names, by id first, else by name; a clear fault otherwise."""
    if ref is None or (ref.id is None and ref.name is None):
        raise InvalidInput(f"The '{field}' is required (give its id or name)")
    if ref.id is not None:
        found = repo.find(conn, ref.id)
        if found is None:
            raise NotFound(f"Entity not found: {repo.what} with id '{ref.id}'")
        return found
    assert ref.name is not None
    found = repo.find_by_name(conn, ref.name)
    if found is None:
        raise NotFound(f"Entity not found: {repo.what} named '{ref.name}'")
    return found


def resolve_optional(
    conn: Connection, repo: DocumentRepository[T], ref: ApiObject | None, *, field: str
) -> T | None:
    if ref is None or (ref.id is None and ref.name is None):
        return None
    return resolve(conn, repo, ref, field=field)


def reference(model: type[T], obj: ApiObject | None) -> T | None:
    """A bare ``id`` reference to store inside another object's document."""
    return None if obj is None or obj.id is None else model(id=obj.id)


def require_name(obj: ApiObject, what: str) -> str:
    name = (obj.name or "").strip()
    if not name:
        raise InvalidInput(f"A {what} needs a name")
    if len(name) > 255:
        raise InvalidInput(f"The name of a {what} is longer than 255 characters")
    return name
