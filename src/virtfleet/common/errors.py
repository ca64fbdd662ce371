"""Domain errors shared by the engine, the agent and the CLI.

The API layer maps each of these to an HTTP status and an oVirt-style fault in exactly one
place (``virtfleet.engine.api.faults``); everything below the API raises only these.
"""

from __future__ import annotations


class VirtfleetError(Exception):
    """Base of every expected error; ``reason`` is the short fault reason shown to users."""

    reason = "Operation Failed"

    def __init__(self, detail: str, *, reason: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if reason is not None:
            self.reason = reason


class InvalidInput(VirtfleetError):
    reason = "Invalid input"


class NotFound(VirtfleetError):
    reason = "Not Found"


class Conflict(VirtfleetError):
    """The object is in a state that does not allow the operation (locked, wrong status...)."""

    reason = "Operation Failed"


class NotAuthenticated(VirtfleetError):
    reason = "Unauthorized"


class Forbidden(VirtfleetError):
    reason = "Forbidden"


class PayloadTooLarge(VirtfleetError):
    reason = "Request Entity Too Large"


class HostUnreachable(VirtfleetError):
    """An agent did not answer or the connection to it broke."""

    reason = "Host unreachable"


class AgentError(VirtfleetError):
    """An agent answered a call with an error."""

    reason = "Host operation failed"
