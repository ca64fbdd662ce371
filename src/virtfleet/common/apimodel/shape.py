"""How each API type looks on the wire, worked out once per class from its field declarations."""

from __future__ import annotations

import enum
import functools
import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic.fields import FieldInfo

from virtfleet.common.apimodel.base import ApiObject, ApiStruct

Kind = Literal["scalar", "struct", "struct_list", "scalar_list"]
ATTRIBUTES = ("id", "href")


@dataclass(frozen=True)
class FieldShape:
    """One field: its wire name, what it holds and, for lists, the item element's name."""

    name: str
    wire_name: str
    kind: Kind
    target: type[Any]
    item_tag: str
    write_only: bool
    read_only: bool = False


def _strip_optional(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return _strip_optional(args[0])
    if origin is typing.Annotated:
        return _strip_optional(typing.get_args(annotation)[0])
    return annotation


def _extra(info: FieldInfo) -> dict[str, Any]:
    extra = info.json_schema_extra
    return extra if isinstance(extra, dict) else {}


def _field_shape(name: str, info: FieldInfo) -> FieldShape:
    annotation = _strip_optional(info.annotation)
    extra = _extra(info)
    wire_name = info.alias or name
    flags = {
        "write_only": bool(extra.get("write_only", False)),
        "read_only": bool(extra.get("read_only", False)),
    }
    if typing.get_origin(annotation) is list:
        (item,) = typing.get_args(annotation)
        item = _strip_optional(item)
        if isinstance(item, type) and issubclass(item, ApiStruct):
            return FieldShape(name, wire_name, "struct_list", item, item.xml_tag, **flags)
        tag = str(extra.get("xml_item", wire_name.rstrip("s")))
        return FieldShape(name, wire_name, "scalar_list", item, tag, **flags)
    if isinstance(annotation, type) and issubclass(annotation, ApiStruct):
        return FieldShape(name, wire_name, "struct", annotation, annotation.xml_tag, **flags)
    return FieldShape(name, wire_name, "scalar", annotation, "", **flags)


@functools.cache
def shape_of(cls: type[ApiStruct]) -> dict[str, FieldShape]:
    """Field shapes keyed by wire name, in declaration order."""
    shapes = (_field_shape(name, info) for name, info in cls.model_fields.items())
    return {s.wire_name: s for s in shapes}


@functools.cache
def _shapes_by_attribute(cls: type[ApiStruct]) -> dict[str, FieldShape]:
    return {s.name: s for s in shape_of(cls).values()}


def written_fields(obj: ApiStruct) -> Iterator[tuple[FieldShape, Any]]:
    """The element fields an encoder writes, in declaration order: set, not secret, not id/href.

    Reads the model's ``__dict__`` directly: encoders run for every object of every reply.
    """
    shapes = _shapes_by_attribute(type(obj))
    for name, value in obj.__dict__.items():
        if value is None:
            continue
        shape = shapes.get(name)
        if shape is None or shape.write_only or shape.wire_name in ATTRIBUTES:
            continue
        yield shape, value


def identity(obj: ApiStruct, href_of: Callable[[ApiObject], str | None]) -> tuple[Any, Any]:
    """``href`` and ``id`` of objects, and of structs that carry an id (a vlan)."""
    fields = obj.__dict__
    href = href_of(obj) if isinstance(obj, ApiObject) else fields.get("href")
    return href, fields.get("id")


def scalar_to_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
