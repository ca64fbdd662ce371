"""Choosing XML or JSON for each request, reading bodies and writing replies in that encoding."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from starlette.requests import Request
from starlette.responses import Response

from virtfleet.common.apimodel.base import ApiStruct
from virtfleet.common.errors import InvalidInput, PayloadTooLarge
from virtfleet.engine.api.codec import json as json_codec
from virtfleet.engine.api.codec import xml as xml_codec
from virtfleet.engine.api.codec.view import PLAIN, View

T = TypeVar("T", bound=ApiStruct)

MAX_BODY_BYTES = 4 * 1024 * 1024
XML = "application/xml"
JSON = "application/json"


def wants_json(request: Request) -> bool:
    """JSON only when asked for before XML; oVirt clients get XML by default."""
    accept = request.headers.get("accept", "").lower()
    json_at = accept.find("json")
    xml_at = accept.find("xml")
    return json_at >= 0 and (xml_at < 0 or json_at < xml_at)


def _sends_json(request: Request) -> bool:
    return "json" in request.headers.get("content-type", "").lower()


async def read_body(request: Request, cls: type[T], *, tag: str | None = None) -> T:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"The request body is larger than {MAX_BODY_BYTES} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"The request body is larger than {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    if _sends_json(request):
        return json_codec.decode_object(body, cls)
    if not body.strip():
        if tag == "action":
            return cls()
        raise InvalidInput(f"The request needs a <{tag or cls.xml_tag}> body")
    return xml_codec.decode_object(body, cls, tag=tag)


def object_response(
    request: Request,
    obj: ApiStruct,
    view: View = PLAIN,
    *,
    status: int = 200,
    tag: str | None = None,
) -> Response:
    if wants_json(request):
        return Response(json_codec.encode_object(obj, view), status, media_type=JSON)
    return Response(xml_codec.encode_object(obj, view, tag=tag), status, media_type=XML)


def collection_response(
    request: Request, tag: str, item_tag: str, items: Iterable[ApiStruct], view: View = PLAIN
) -> Response:
    if wants_json(request):
        return Response(json_codec.encode_collection(item_tag, items, view), media_type=JSON)
    return Response(xml_codec.encode_collection(tag, item_tag, items, view), media_type=XML)
