"""The one place where errors become HTTP replies: an oVirt ``<fault>`` or its JSON twin."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from virtfleet.common.apimodel import Fault
from virtfleet.common.errors import Busy, VirtfleetError
from virtfleet.engine.api.negotiation import object_response

log = logging.getLogger(__name__)

HTTP_REASONS = {
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    413: "Request Entity Too Large",
    415: "Unsupported Media Type",
}


def fault_response(request: Request, status: int, reason: str, detail: str) -> Response:
    response = object_response(request, Fault(reason=reason, detail=detail), status=status)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="virtfleet", Bearer'
    return response


async def domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, VirtfleetError)
    response = fault_response(request, exc.http_status, exc.reason, exc.detail)
    if isinstance(exc, Busy):
        response.headers["Retry-After"] = str(exc.retry_after_s)
    return response


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    reason = HTTP_REASONS.get(exc.status_code, "Operation Failed")
    return fault_response(request, exc.status_code, reason, str(exc.detail))


async def unexpected_error(request: Request, exc: Exception) -> Response:
    """A bug: log it with its traceback, answer with a fault that reveals nothing inside."""
    log.exception("unexpected error method=%s path=%s", request.method, request.url.path)
    return fault_response(
        request, 500, "Operation Failed", "Internal error; the engine log has the details"
    )


EXCEPTION_HANDLERS = {
    VirtfleetError: domain_error,
    HTTPException: http_error,
    Exception: unexpected_error,
}
