"""Domain errors shared by the engine, the agent and the CLI, each with its wire codes.

Every error class declares once how it travels on each wire: ``http_status`` (the REST API's
fault, mapped in ``engine.api.faults``, read back by the CLI), ``rpc_code`` (the engine↔agent
JSON-RPC error code, ``common.rpc``) and ``close_code`` (a console WebSocket's close code,
4000 + the HTTP status, set by the agent's and the engine's console relays and read by the CLI).
Readers that receive a code find the class with ``error_class``; everything below the API raises
only these.
"""

from __future__ import annotations

from typing import ClassVar, Literal


class VirtfleetError(Exception):
    """Base of every expected error; ``reason`` is the short fault reason shown to users.

    Raised as is, it is a failure of no declared kind: a 500 over HTTP, as a bug would be.
    """

    reason = "Operation Failed"
    http_status: ClassVar[int] = 500
    rpc_code: ClassVar[int] = -32010
    close_code: ClassVar[int] = 4500

    def __init__(self, detail: str, *, reason: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if reason is not None:
            self.reason = reason


class InvalidInput(VirtfleetError):
    reason = "Invalid input"
    http_status = 400
    rpc_code = -32003
    close_code = 4400


class NotFound(VirtfleetError):
    reason = "Not Found"
    http_status = 404
    rpc_code = -32001
    close_code = 4404


class Conflict(VirtfleetError):
    """The object is in a state that does not allow the operation (locked, wrong status...)."""

    reason = "Operation Failed"
    http_status = 409
    rpc_code = -32002
    close_code = 4409


class NotAuthenticated(VirtfleetError):
    reason = "Unauthorized"
    http_status = 401
    rpc_code = -32004
    close_code = 4401


class Forbidden(VirtfleetError):
    reason = "Forbidden"
    http_status = 403
    rpc_code = -32005
    close_code = 4403


class PayloadTooLarge(VirtfleetError):
    reason = "Request Entity Too Large"
    http_status = 413
    rpc_code = -32008
    close_code = 4413


class AgentError(VirtfleetError):
    """An agent answered a call with an error (a hypervisor or storage failure on the host)."""

    reason = "Host operation failed"
    http_status = 502
    rpc_code = -32000
    close_code = 4502


class Busy(VirtfleetError):
    """The engine has as much work queued as it takes; the client should retry later.

    Only the REST API sends it (with Retry-After); it does not travel on the other wires, and a
    client reading a 503 back finds HostUnreachable, the class that owns that code.
    """

    reason = "Service Unavailable"
    http_status = 503

    def __init__(self, detail: str, *, retry_after_s: int = 1) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s


class HostUnreachable(VirtfleetError):
    """An agent did not answer or the connection to it broke."""

    reason = "Host unreachable"
    http_status = 503
    rpc_code = -32009
    close_code = 4503


# The classes that travel: each code names exactly one of them on its wire.
WIRE_ERRORS: tuple[type[VirtfleetError], ...] = (
    VirtfleetError,
    InvalidInput,
    NotFound,
    Conflict,
    NotAuthenticated,
    Forbidden,
    PayloadTooLarge,
    AgentError,
    HostUnreachable,
)

WireCode = Literal["http_status", "rpc_code", "close_code"]


def error_class(
    wire: WireCode, code: int, default: type[VirtfleetError] = VirtfleetError
) -> type[VirtfleetError]:
    """The error class that declares ``code`` as its ``wire`` code, else ``default``."""
    for cls in WIRE_ERRORS:
        if getattr(cls, wire) == code:
            return cls
    return default
