"""oVirt v4 XML: objects to elements and back, derived from the model's field shapes."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, TypeVar

import pydantic
from lxml import etree

from virtfleet.common.apimodel.base import ApiObject, ApiStruct
from virtfleet.common.apimodel.shape import (
    ATTRIBUTES,
    FieldShape,
    identity,
    scalar_to_text,
    shape_of,
    written_fields,
)
from virtfleet.common.errors import InvalidInput
from virtfleet.engine.api.codec.errors import describe_validation_error
from virtfleet.engine.api.codec.view import PLAIN, View

T = TypeVar("T", bound=ApiStruct)

MAX_DEPTH = 32
_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, huge_tree=False, remove_comments=True, load_dtd=False
)


# --- encoding ------------------------------------------------------------------------------------


# Characters XML 1.0 cannot carry; user text (a name, an id echoed in a fault) may hold them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _append_text(parent: etree._Element, tag: str, value: Any) -> None:
    etree.SubElement(parent, tag).text = xml_text(scalar_to_text(value))


def _set_identity(element: etree._Element, obj: ApiStruct, view: View) -> None:
    href, identifier = identity(obj, view.href)
    if href:
        element.set("href", xml_text(href))
    if identifier is not None:
        element.set("id", xml_text(scalar_to_text(identifier)))


def _write_fields(element: etree._Element, obj: ApiStruct, view: View, path: str) -> None:
    for shape, value in written_fields(obj):
        _write_value(element, shape, value, view, path)


def _write_value(
    element: etree._Element, shape: FieldShape, value: Any, view: View, parent_path: str
) -> None:
    if shape.kind == "scalar":
        _append_text(element, shape.wire_name, value)
        return
    if shape.kind == "scalar_list":
        wrapper = etree.SubElement(element, shape.wire_name)
        for item in value:
            _append_text(wrapper, shape.item_tag, item)
        return
    path = f"{parent_path}.{shape.wire_name}" if parent_path else shape.wire_name
    if shape.kind == "struct":
        element.append(_element(shape.wire_name, value, view, path, nested=True))
    else:
        wrapper = etree.SubElement(element, shape.wire_name)
        for item in value:
            wrapper.append(_element(shape.item_tag, item, view, path, nested=True))


def _element(tag: str, obj: ApiStruct, view: View, path: str, *, nested: bool) -> etree._Element:
    element = etree.Element(tag)
    _set_identity(element, obj, view)
    if isinstance(obj, ApiObject):
        # a nested object is a reference; one without an id (a guest's user) is shown whole
        if nested and obj.id is not None and not view.expands(path):
            return element
        for rel, link_href in view.actions_of(obj) if not nested else []:
            actions = element.find("actions")
            if actions is None:
                actions = etree.SubElement(element, "actions")
            etree.SubElement(actions, "link", rel=rel, href=link_href)
    _write_fields(element, obj, view, path)
    if not nested:
        for rel, link_href in view.links_of(obj):
            etree.SubElement(element, "link", rel=rel, href=link_href)
    return element


def encode_object(obj: ApiStruct, view: View = PLAIN, *, tag: str | None = None) -> bytes:
    element = _element(tag or type(obj).xml_tag, obj, view, "", nested=False)
    return etree.tostring(element, xml_declaration=True, encoding="UTF-8", standalone=True)


def encode_collection(
    tag: str, item_tag: str, items: Iterable[ApiStruct], view: View = PLAIN
) -> bytes:
    root = etree.Element(tag)
    for item in items:
        root.append(_element(item_tag, item, view, "", nested=False))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


# --- decoding ------------------------------------------------------------------------------------


def _read_scalar_text(element: etree._Element) -> str:
    if len(element):
        raise InvalidInput(f"Element '{element.tag}' must hold a plain value, not elements")
    return element.text or ""


def _read_struct(element: etree._Element, cls: type[ApiStruct], depth: int) -> dict[str, Any]:
    if depth > MAX_DEPTH:
        raise InvalidInput("The XML document is nested too deeply")
    shapes = shape_of(cls)
    data: dict[str, Any] = {}
    for attribute in ATTRIBUTES:
        if attribute in element.attrib and attribute in shapes:
            data[attribute] = element.attrib[attribute]
    for child in element:
        if not isinstance(child.tag, str):
            continue
        shape = shapes.get(child.tag)
        if shape is None or shape.wire_name in ATTRIBUTES:
            continue  # unknown elements are ignored, as oVirt does
        data[shape.wire_name] = _read_value(child, shape, depth)
    return data


def _read_value(element: etree._Element, shape: FieldShape, depth: int) -> Any:
    if shape.kind == "scalar":
        return _read_scalar_text(element)
    if shape.kind == "scalar_list":
        return [_read_scalar_text(item) for item in element if item.tag == shape.item_tag]
    if shape.kind == "struct":
        return _read_struct(element, shape.target, depth + 1)
    return [
        _read_struct(item, shape.target, depth + 1)
        for item in element
        if item.tag == shape.item_tag
    ]


def parse_document(body: bytes) -> etree._Element:
    try:
        return etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise InvalidInput(f"The request body is not well-formed XML: {exc}") from None


def decode_object(body: bytes, cls: type[T], *, tag: str | None = None) -> T:
    root = parse_document(body)
    expected = tag or cls.xml_tag
    if root.tag != expected:
        raise InvalidInput(f"Expected a <{expected}> element but the body holds <{root.tag}>")
    data = _read_struct(root, cls, 0)
    try:
        return cls.model_validate(data)
    except pydantic.ValidationError as exc:
        raise InvalidInput(describe_validation_error(exc)) from None
