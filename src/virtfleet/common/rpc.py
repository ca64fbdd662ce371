"""JSON-RPC 2.0 framing for the engine↔agent protocol, shared by both ends.

Only single (non-batch) messages with by-name params are used. Domain errors travel as
application error codes so an agent raising ``NotFound`` makes the engine's call raise
``NotFound`` with the same detail and reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from virtfleet.common.errors import AgentError, InvalidInput, VirtfleetError, error_class
from virtfleet.common.protocol import Wire

JSONRPC_VERSION = "2.0"
MAX_MESSAGE_BYTES = 8 * 1024 * 1024

RequestId = int | str


class ErrorCode(IntEnum):
    """JSON-RPC's own codes; the domain errors' codes (the -32000..-32099 range JSON-RPC leaves
    to servers) are declared by each class in ``common.errors``."""

    PARSE_ERROR = -32700
    INVALID_REQUEST = -32600
    METHOD_NOT_FOUND = -32601
    INVALID_PARAMS = -32602
    INTERNAL_ERROR = -32603
    TIMED_OUT = -32006


# Protocol codes that mean a domain error on the calling side; any other unknown code is the
# agent failing (AgentError).
_PROTOCOL_ERRORS: dict[int, type[VirtfleetError]] = {ErrorCode.INVALID_PARAMS: InvalidInput}


@dataclass(frozen=True)
class Request:
    id: RequestId
    method: str
    params: dict[str, Any]


@dataclass(frozen=True)
class NotificationMessage:
    method: str
    params: dict[str, Any]


@dataclass(frozen=True)
class Response:
    id: RequestId
    result: dict[str, Any]


@dataclass(frozen=True)
class ErrorResponse:
    id: RequestId | None
    code: int
    message: str
    data: dict[str, Any] = field(default_factory=dict)


Message = Request | NotificationMessage | Response | ErrorResponse


class ProtocolError(Exception):
    """A frame that is not valid JSON-RPC as this protocol uses it; ``id`` when it was readable."""

    def __init__(self, code: ErrorCode, message: str, id: RequestId | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.id = id


def _dumps(obj: dict[str, Any]) -> str:
    return json.dumps(obj, separators=(",", ":"))


def encode_request(id: RequestId, method: str, params: Wire) -> str:
    return _dumps(
        {
            "jsonrpc": JSONRPC_VERSION,
            "id": id,
            "method": method,
            "params": params.model_dump(mode="json"),
        }
    )


def encode_notification(method: str, params: Wire) -> str:
    return _dumps(
        {"jsonrpc": JSONRPC_VERSION, "method": method, "params": params.model_dump(mode="json")}
    )


def encode_result(id: RequestId, result: Wire) -> str:
    return _dumps({"jsonrpc": JSONRPC_VERSION, "id": id, "result": result.model_dump(mode="json")})


def encode_error(
    id: RequestId | None, code: int, message: str, data: dict[str, Any] | None = None
) -> str:
    error: dict[str, Any] = {"code": int(code), "message": message}
    if data:
        error["data"] = data
    return _dumps({"jsonrpc": JSONRPC_VERSION, "id": id, "error": error})


def error_for_exception(exc: BaseException) -> ErrorResponse:
    """The error a server sends for ``exc`` (id left empty for the caller to fill)."""
    if isinstance(exc, VirtfleetError):
        return ErrorResponse(None, exc.rpc_code, exc.detail, {"reason": exc.reason})
    return ErrorResponse(None, ErrorCode.INTERNAL_ERROR, f"internal error: {type(exc).__name__}")


def exception_for_error(error: ErrorResponse) -> VirtfleetError:
    """The domain error a client raises for an error reply; unknown codes become AgentError."""
    fallback = _PROTOCOL_ERRORS.get(error.code, AgentError)
    cls = error_class("rpc_code", error.code, default=fallback)
    reason = error.data.get("reason")
    return cls(error.message, reason=reason if isinstance(reason, str) else None)


def _valid_id(value: object) -> bool:
    return isinstance(value, int | str) and not isinstance(value, bool)


def decode_message(data: str | bytes) -> Message:
    """Parse one frame; raises ``ProtocolError`` with the JSON-RPC code that fits the fault."""
    if len(data) > MAX_MESSAGE_BYTES:
        raise ProtocolError(ErrorCode.INVALID_REQUEST, "message too large")
    try:
        obj = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise ProtocolError(ErrorCode.PARSE_ERROR, f"not JSON: {e}") from e
    if not isinstance(obj, dict):
        raise ProtocolError(ErrorCode.INVALID_REQUEST, "a message must be a JSON object")
    raw_id = obj.get("id")
    msg_id: RequestId | None = raw_id if _valid_id(raw_id) else None
    if obj.get("jsonrpc") != JSONRPC_VERSION:
        raise ProtocolError(ErrorCode.INVALID_REQUEST, "jsonrpc must be '2.0'", msg_id)
    if "method" in obj:
        return _decode_call(obj, msg_id)
    if "result" in obj or "error" in obj:
        return _decode_reply(obj, msg_id)
    raise ProtocolError(ErrorCode.INVALID_REQUEST, "neither a call nor a reply", msg_id)


def _decode_call(obj: dict[str, Any], msg_id: RequestId | None) -> Message:
    method = obj["method"]
    if not isinstance(method, str):
        raise ProtocolError(ErrorCode.INVALID_REQUEST, "method must be a string", msg_id)
    if "id" in obj and msg_id is None:
        raise ProtocolError(ErrorCode.INVALID_REQUEST, "id must be a number or a string")
    params = obj.get("params", {})
    if not isinstance(params, dict):
        raise ProtocolError(ErrorCode.INVALID_PARAMS, "params must be an object", msg_id)
    if msg_id is None:
        return NotificationMessage(method, params)
    return Request(msg_id, method, params)


def _decode_reply(obj: dict[str, Any], msg_id: RequestId | None) -> Message:
    if "error" in obj:
        error = obj["error"]
        if (
            not isinstance(error, dict)
            or not isinstance(error.get("code"), int)
            or not isinstance(error.get("message"), str)
        ):
            raise ProtocolError(ErrorCode.INVALID_REQUEST, "malformed error object", msg_id)
        data = error.get("data")
        return ErrorResponse(
            msg_id, error["code"], error["message"], data if isinstance(data, dict) else {}
        )
    if msg_id is None:
        raise ProtocolError(ErrorCode.INVALID_REQUEST, "a result needs an id")
    result = obj["result"]
    if not isinstance(result, dict):
        raise ProtocolError(ErrorCode.INVALID_REQUEST, "result must be an object", msg_id)
    return Response(msg_id, result)
