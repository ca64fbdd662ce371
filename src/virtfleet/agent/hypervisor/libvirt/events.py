"""libvirt's default event loop, registered once per process and run by one daemon thread.

Every driver instance shares it; lifecycle callbacks registered on any connection run there.
"""

from __future__ import annotations

import logging
import threading

import libvirt

log = logging.getLogger(__name__)

_lock = threading.Lock()
_thread: threading.Thread | None = None


def _ignore_error(_ctx: object, _error: object) -> None:
    """libvirt's default handler prints every error to stderr; ours are raised as exceptions."""


def _run() -> None:
    while True:
        if libvirt.virEventRunDefaultImpl() < 0:
            log.error("libvirt event loop iteration failed")


def ensure_event_loop() -> None:
    """Register the default event implementation and start its thread, once per process.

    Must run before a connection is opened for that connection to deliver events.
    """
    global _thread
    with _lock:
        if _thread is not None:
            return
        libvirt.registerErrorHandler(_ignore_error, None)
        if libvirt.virEventRegisterDefaultImpl() < 0:
            raise RuntimeError("cannot register libvirt's default event implementation")
        _thread = threading.Thread(target=_run, name="libvirt-events", daemon=True)
        _thread.start()
