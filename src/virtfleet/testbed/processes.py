"""Stopping processes by PID: SIGTERM, a grace period, then SIGKILL."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger(__name__)


def is_alive(pid: int, comm: str | None = None) -> bool:
    """True if ``pid`` runs (zombies count as gone) and, when given, its name is ``comm``.

    The name check keeps a recycled PID from being mistaken for a daemon we started.
    """
    proc = Path("/proc", str(pid))
    try:
        stat = (proc / "stat").read_text()
        name = (proc / "comm").read_text().strip()
    except (FileNotFoundError, ProcessLookupError):
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    if state in ("Z", "X"):
        return False
    return comm is None or name == comm


def read_pidfile(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    return int(text) if text.isdigit() else None


def terminate(pids: Iterable[tuple[int, str | None]], *, grace: float = 10.0) -> None:
    """Stop every (pid, expected name) pair still alive; SIGKILL those that outlive ``grace``."""
    targets = [(pid, comm) for pid, comm in pids if is_alive(pid, comm)]
    for pid, _ in targets:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        targets = [(pid, comm) for pid, comm in targets if is_alive(pid, comm)]
        if not targets:
            return
        time.sleep(0.05)
    for pid, comm in targets:
        log.warning("process did not stop on SIGTERM, killing pid=%d comm=%s", pid, comm)
        _signal(pid, signal.SIGKILL)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(is_alive(p, c) for p, c in targets):
        time.sleep(0.05)


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
