"""Loopback ports for tests that start servers: free ones, and whether one is taken."""

from __future__ import annotations

import contextlib
import socket

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A loopback port with nothing listening on it (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def free_port_run(length: int) -> int:
    """The first port of ``length`` consecutive free ports (agents take ports base, base+1...)."""
    for _ in range(200):
        base = free_port()
        if base + length <= 65000 and all(_port_is_free(base + i) for i in range(length)):
            return base
    raise RuntimeError(f"no run of {length} free ports found")


def is_listening(port: int) -> bool:
    """Whether something accepts connections on the loopback port."""
    with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), timeout=1.0):
        return True
    return False
