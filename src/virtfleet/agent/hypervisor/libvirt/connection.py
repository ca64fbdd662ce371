"""Opening libvirt connections and turning libvirt errors into virtfleet's domain errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import libvirt

from virtfleet.common.errors import AgentError, Conflict, NotFound

from .events import ensure_event_loop

_NOT_FOUND = {libvirt.VIR_ERR_NO_DOMAIN}
_CONFLICT = {libvirt.VIR_ERR_OPERATION_INVALID, libvirt.VIR_ERR_DOM_EXIST}


def open_connection(uri: str) -> Any:
    """A read-write connection to ``uri``, able to deliver events."""
    ensure_event_loop()
    with libvirt_errors():
        return libvirt.open(uri)


@contextmanager
def libvirt_errors(what: str = "") -> Iterator[None]:
    """Re-raise ``libvirtError`` as NotFound, Conflict or AgentError with libvirt's message."""
    try:
        yield
    except libvirt.libvirtError as exc:
        message = exc.get_error_message() or str(exc)
        detail = f"{what}: {message}" if what else message
        code = exc.get_error_code()
        if code in _NOT_FOUND:
            raise NotFound(detail) from exc
        if code in _CONFLICT:
            raise Conflict(detail) from exc
        raise AgentError(detail) from exc
