"""A reverter: undo actions registered as work succeeds, run newest first when it fails."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from virtfleet.common.errors import VirtfleetError

log = logging.getLogger(__name__)

Undo = Callable[[], Awaitable[None]]


@dataclass
class Reverter:
    """Collects undos; ``revert`` runs every one even when some fail, and reports the failures."""

    _undos: list[tuple[str, Undo]] = field(default_factory=list)

    def add(self, name: str, undo: Undo) -> None:
        self._undos.append((name, undo))

    def __len__(self) -> int:
        return len(self._undos)

    async def revert(self) -> list[str]:
        """Run the undos in reverse order; returns one message per undo that raised."""
        failures: list[str] = []
        while self._undos:
            name, undo = self._undos.pop()
            try:
                await undo()
            except Exception as exc:
                log.exception("undo failed step=%s", name)
                failures.append(f"{name}: {describe_error(exc)}")
        return failures


def describe_error(exc: BaseException) -> str:
    """The text users see for a failure: a domain error's detail, else the exception itself."""
    if isinstance(exc, VirtfleetError):
        return exc.detail
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
