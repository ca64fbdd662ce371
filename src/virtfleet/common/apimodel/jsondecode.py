"""Reading the API's JSON into the model: shared by the engine (request bodies) and the CLI
(replies), so both sides accept exactly the same documents.

oVirt's JSON wraps lists by their item name (``"nics": {"nic": [...]}``); plain lists are
accepted too, and keys the model does not declare are dropped, as oVirt ignores them.
"""

from __future__ import annotations

from typing import Any, TypeVar

from virtfleet.common.apimodel.base import ApiStruct
from virtfleet.common.apimodel.shape import shape_of
from virtfleet.common.errors import InvalidInput

T = TypeVar("T", bound=ApiStruct)

MAX_DEPTH = 32


def _unwrap_list(value: Any, item_tag: str) -> Any:
    if isinstance(value, dict) and set(value) <= {item_tag}:
        return value.get(item_tag, [])
    return value


def normalise(data: Any, cls: type[ApiStruct], depth: int = 0) -> Any:
    """Accept oVirt's wrapped lists as well as plain ones, and drop unknown keys."""
    if depth > MAX_DEPTH:
        raise InvalidInput("The JSON document is nested too deeply")
    if not isinstance(data, dict):
        return data  # let validation report the wrong type
    shapes = shape_of(cls)
    result: dict[str, Any] = {}
    for key, value in data.items():
        shape = shapes.get(key)
        if shape is None:
            continue
        if shape.kind in ("scalar_list", "struct_list"):
            value = _unwrap_list(value, shape.item_tag)
        if shape.kind == "struct":
            value = normalise(value, shape.target, depth + 1)
        elif shape.kind == "struct_list" and isinstance(value, list):
            value = [normalise(v, shape.target, depth + 1) for v in value]
        result[key] = value
    return result


def from_json_data(data: Any, cls: type[T]) -> T:
    """The ``cls`` a decoded JSON document describes; raises pydantic's ValidationError."""
    return cls.model_validate(normalise(data, cls))
