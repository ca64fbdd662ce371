"""Applying a partial update (what a client PUTs) onto a stored object, nested fields included."""

from __future__ import annotations

from typing import Any, TypeVar

import pydantic

from virtfleet.common.apimodel.base import ApiObject, ApiStruct
from virtfleet.common.errors import InvalidInput

T = TypeVar("T", bound=ApiStruct)


class _Replace(dict[str, Any]):
    """A nested value that replaces the stored one instead of merging into it."""


def _sent(model: ApiStruct) -> dict[str, Any]:
    """Only the fields the client actually sent, recursively."""
    data: dict[str, Any] = {}
    for name in model.model_fields_set:
        value = getattr(model, name)
        if isinstance(value, ApiObject):
            data[name] = _Replace(value.model_dump(mode="python", exclude_none=True))
        elif isinstance(value, ApiStruct):
            data[name] = _sent(value)
        elif isinstance(value, list):
            data[name] = [_sent(v) if isinstance(v, ApiStruct) else v for v in value]
        else:
            data[name] = value
    return data


def _deep_merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in changes.items():
        if isinstance(value, _Replace):
            merged[key] = dict(value)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def merge_update(current: T, changes: ApiStruct) -> T:
    """Nested structures merge field by field; lists and references are replaced whole."""
    base = current.model_dump(mode="python", exclude_none=True)
    merged = _deep_merge(base, _sent(changes))
    try:
        return type(current).model_validate(merged)
    except pydantic.ValidationError as exc:
        raise InvalidInput(str(exc.errors()[0]["msg"])) from None
