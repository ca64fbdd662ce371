"""The OpenAPI description, derived from the resource table and the model's field shapes.

It describes the JSON encoding (the XML one has the same fields as elements), so that tools such
as schemathesis can fuzz every route the engine serves.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from virtfleet.common.apimodel import Action, Api, Fault
from virtfleet.common.apimodel.base import ApiObject, ApiStruct
from virtfleet.common.apimodel.shape import ATTRIBUTES, FieldShape, shape_of
from virtfleet.engine.api.resources import TABLE, Op, Resource
from virtfleet.engine.api.routing import API_PREFIX, Located
from virtfleet.engine.services.compat import PRODUCT_VERSION

JsonSchema = dict[str, Any]
_LINKS: JsonSchema = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"rel": {"type": "string"}, "href": {"type": "string"}},
    },
}


def _scalar_schema(target: Any) -> JsonSchema:
    if isinstance(target, type) and issubclass(target, enum.Enum):
        return {"type": "string", "enum": [str(m.value) for m in target]}
    if target is bool:
        return {"type": "boolean"}
    if target is int:
        return {"type": "integer"}
    if target is float:
        return {"type": "number"}
    if target is datetime:
        return {"type": "string", "format": "date-time"}
    return {"type": "string"}


class SchemaBuilder:
    def __init__(self) -> None:
        self.components: dict[str, JsonSchema] = {}

    def ref(self, cls: type[ApiStruct]) -> JsonSchema:
        name = cls.__name__
        if name not in self.components:
            self.components[name] = {}  # placeholder first: types refer to each other
            self.components[name] = self._object(cls)
        return {"$ref": f"#/components/schemas/{name}"}

    def _field(self, shape: FieldShape) -> JsonSchema:
        if shape.kind == "scalar":
            return _scalar_schema(shape.target)
        if shape.kind == "struct":
            return self.ref(shape.target)
        items = (
            self.ref(shape.target) if shape.kind == "struct_list" else _scalar_schema(shape.target)
        )
        return {
            "type": "object",
            "properties": {shape.item_tag: {"type": "array", "items": items}},
        }

    def _object(self, cls: type[ApiStruct]) -> JsonSchema:
        properties: dict[str, JsonSchema] = {}
        for wire_name, shape in shape_of(cls).items():
            if wire_name in ATTRIBUTES:
                properties[wire_name] = {"type": "string"}
            else:
                schema = self._field(shape)
                if shape.write_only:
                    schema = {**schema, "writeOnly": True}
                if shape.read_only:
                    # a $ref takes no sibling keywords in OpenAPI 3.0
                    target = {"allOf": [schema]} if "$ref" in schema else schema
                    schema = {**target, "readOnly": True}
                properties[wire_name] = schema
        if issubclass(cls, ApiObject):
            properties["link"] = _LINKS
            properties["actions"] = {"type": "object", "properties": {"link": _LINKS}}
        return {"type": "object", "properties": properties}


def _json(schema: JsonSchema) -> JsonSchema:
    return {"application/json": {"schema": schema}}


def _body(schema: JsonSchema) -> JsonSchema:
    return {"required": True, "content": {**_json(schema), "application/xml": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    fault = {"$ref": "#/components/schemas/Fault"}
    texts = {
        400: "Invalid input",
        401: "Not authenticated",
        404: "Not found",
        409: "Conflict with the object's state",
        413: "Body too large",
        502: "A host failed the operation",
        503: "A host is unreachable",
    }
    return {str(c): {"description": texts[c], "content": _json(fault)} for c in codes}


_COMMON_ERRORS = (400, 401, 404, 409, 413, 502, 503)
_LIST_PARAMS = [
    {"name": "search", "in": "query", "schema": {"type": "string"}},
    {"name": "max", "in": "query", "schema": {"type": "integer"}},
    {"name": "case_sensitive", "in": "query", "schema": {"type": "boolean"}},
    {"name": "current", "in": "query", "schema": {"type": "boolean"}},
    {"name": "follow", "in": "query", "schema": {"type": "string"}},
]


def _path_params(located: Located, *, entity: bool) -> list[JsonSchema]:
    params = [
        {"name": f"p{d}", "in": "path", "required": True, "schema": {"type": "string"}}
        for d in range(len(located.chain) - 1)
    ]
    if entity:
        params.append({"name": "id", "in": "path", "required": True, "schema": {"type": "string"}})
    return params


def _operations(located: Located, builder: SchemaBuilder) -> dict[str, JsonSchema]:
    resource = located.resource
    model = builder.ref(resource.model)
    name = "_".join(r.segment for r in located.chain)
    collection = {
        "type": "object",
        "properties": {resource.item_tag: {"type": "array", "items": model}},
    }
    paths: dict[str, JsonSchema] = {}
    base = located.template()
    ops: dict[str, JsonSchema] = {}
    if Op.LIST in resource.ops:
        ops["get"] = {
            "operationId": f"list_{name}",
            "parameters": _path_params(located, entity=False) + _LIST_PARAMS,
            "responses": {
                "200": {"description": "The collection", "content": _json(collection)},
                **_errors(*_COMMON_ERRORS),
            },
        }
    if Op.ADD in resource.ops:
        ops["post"] = {
            "operationId": f"add_{name}",
            "parameters": _path_params(located, entity=False),
            "requestBody": _body(model),
            "responses": {
                "201": {"description": "Created", "content": _json(model)},
                **_errors(*_COMMON_ERRORS),
            },
        }
    if ops:
        paths[base] = ops
    entity_ops: dict[str, JsonSchema] = {}
    entity_params = _path_params(located, entity=True)
    if Op.GET in resource.ops:
        entity_ops["get"] = {
            "operationId": f"get_{name}",
            "parameters": entity_params,
            "responses": {
                "200": {"description": "The object", "content": _json(model)},
                **_errors(*_COMMON_ERRORS),
            },
        }
    if Op.UPDATE in resource.ops:
        entity_ops["put"] = {
            "operationId": f"update_{name}",
            "parameters": entity_params,
            "requestBody": _body(model),
            "responses": {
                "200": {"description": "Updated", "content": _json(model)},
                **_errors(*_COMMON_ERRORS),
            },
        }
    if Op.REMOVE in resource.ops:
        entity_ops["delete"] = {
            "operationId": f"remove_{name}",
            "parameters": entity_params,
            "responses": {"200": {"description": "Removed"}, **_errors(*_COMMON_ERRORS)},
        }
    if entity_ops:
        paths[base + "/{id}"] = entity_ops
    action = builder.ref(Action)
    for verb in (action.name for action in resource.actions):
        paths[f"{base}/{{id}}/{verb}"] = {
            "post": {
                "operationId": f"{verb}_{name}",
                "parameters": entity_params,
                "requestBody": _body(action),
                "responses": {
                    "200": {"description": "Done or started", "content": _json(action)},
                    **_errors(*_COMMON_ERRORS),
                },
            }
        }
    return paths


def _walk(located: Located, services: Mapping[str, object]) -> list[Located]:
    if located.resource.service not in services:
        return []
    found = [located]
    for child in located.resource.children:
        found += _walk(Located((*located.chain, child)), services)
    return found


def build_openapi(services: Mapping[str, object]) -> JsonSchema:
    builder = SchemaBuilder()
    builder.ref(Fault)
    paths: dict[str, JsonSchema] = {
        API_PREFIX: {
            "get": {
                "operationId": "get_api",
                "responses": {
                    "200": {"description": "The API root", "content": _json(builder.ref(Api))},
                    **_errors(401),
                },
            }
        }
    }
    resources: list[Resource] = list(TABLE)
    for resource in resources:
        for located in _walk(Located((resource,)), services):
            paths.update(_operations(located, builder))
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "virtfleet engine API (oVirt v4 compatible)",
            "version": PRODUCT_VERSION.full_version or "4",
        },
        "paths": paths,
        "components": {
            "schemas": builder.components,
            "securitySchemes": {
                "basic": {"type": "http", "scheme": "basic"},
                "bearer": {"type": "http", "scheme": "bearer"},
            },
        },
        "security": [{"basic": []}, {"bearer": []}],
    }
