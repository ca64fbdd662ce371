"""The JSON encoding of the same model (used by the portal and the CLI).

Shape follows oVirt's JSON: objects as maps, nested lists wrapped by their item name
(``"disk_attachments": {"disk_attachment": [...]}``), collections as ``{"vm": [...]}``, links
as a ``link`` list of ``{"rel", "href"}``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, TypeVar

import pydantic

from virtfleet.common.apimodel.base import ApiObject, ApiStruct
from virtfleet.common.apimodel.jsondecode import from_json_data
from virtfleet.common.apimodel.shape import (
    FieldShape,
    identity,
    scalar_to_text,
    written_fields,
)
from virtfleet.common.errors import InvalidInput
from virtfleet.engine.api.codec.errors import describe_validation_error
from virtfleet.engine.api.codec.view import PLAIN, View

T = TypeVar("T", bound=ApiStruct)


def _scalar(value: Any) -> Any:
    if isinstance(value, bool | int | float | str):
        return value
    return scalar_to_text(value)


def _to_data(obj: ApiStruct, view: View, path: str, *, nested: bool) -> dict[str, Any]:
    data: dict[str, Any] = {}
    href, identifier = identity(obj, view.href)
    if href:
        data["href"] = href
    if identifier is not None:
        data["id"] = identifier
    # a nested object is a reference; one without an id (a guest's user) is shown whole
    if isinstance(obj, ApiObject) and nested and identifier is not None and not view.expands(path):
        return data
    for shape, value in written_fields(obj):
        data[shape.wire_name] = _value(shape, value, view, path)
    links = [] if nested else view.links_of(obj)
    if links:
        data["link"] = [{"rel": rel, "href": href} for rel, href in links]
    if isinstance(obj, ApiObject):
        actions = [] if nested else view.actions_of(obj)
        if actions:
            data["actions"] = {"link": [{"rel": rel, "href": href} for rel, href in actions]}
    return data


def _value(shape: FieldShape, value: Any, view: View, parent_path: str) -> Any:
    if shape.kind == "scalar":
        return _scalar(value)
    if shape.kind == "scalar_list":
        return {shape.item_tag: [_scalar(v) for v in value]}
    path = f"{parent_path}.{shape.wire_name}" if parent_path else shape.wire_name
    if shape.kind == "struct":
        return _to_data(value, view, path, nested=True)
    return {shape.item_tag: [_to_data(v, view, path, nested=True) for v in value]}


def encode_object(obj: ApiStruct, view: View = PLAIN) -> bytes:
    return json.dumps(_to_data(obj, view, "", nested=False)).encode()


def encode_collection(item_tag: str, items: Iterable[ApiStruct], view: View = PLAIN) -> bytes:
    payload = [_to_data(item, view, "", nested=False) for item in items]
    return json.dumps({item_tag: payload} if payload else {}).encode()


# --- decoding ------------------------------------------------------------------------------------


def decode_object(body: bytes, cls: type[T]) -> T:
    try:
        data = json.loads(body) if body.strip() else {}
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidInput(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidInput("The request body must be a JSON object")
    try:
        return from_json_data(data, cls)
    except pydantic.ValidationError as exc:
        raise InvalidInput(describe_validation_error(exc)) from None
    except RecursionError:
        raise InvalidInput("The JSON document is nested too deeply") from None
