"""`virtfleet vm console`: a VM's serial console through the engine's WebSocket relay.

On a terminal the session is raw (every key goes to the guest) until Ctrl-], and the terminal
is restored afterwards. Without one, stdin is piped to the console and the console's output to
stdout; the session then lasts until the console closes or ``timeout`` runs out, since a serial
port has no end of input.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import ssl
import termios
import threading
import time
import tty
from collections.abc import Iterator
from typing import BinaryIO
from urllib.parse import quote

from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
from websockets.sync.client import ClientConnection, connect

from virtfleet.common.consolepaths import SERIAL_CONSOLE_PREFIX
from virtfleet.common.errors import (
    HostUnreachable,
    NotAuthenticated,
    VirtfleetError,
    error_class,
)

log = logging.getLogger(__name__)

ESCAPE = b"\x1d"  # Ctrl-]
CONNECT_TIMEOUT_S = 15.0
_POLL_S = 0.2
_READ_CHUNK = 4096


def console_url(engine_url: str, vm_id: str) -> str:
    """The engine's serial console WebSocket for ``vm_id`` (https → wss, http → ws)."""
    scheme, sep, rest = engine_url.rstrip("/").partition("://")
    ws_scheme = {"https": "wss", "http": "ws"}.get(scheme.lower())
    if not sep or ws_scheme is None:
        raise VirtfleetError(f"cannot open a console through {engine_url!r}")
    return f"{ws_scheme}://{rest}{SERIAL_CONSOLE_PREFIX}{quote(vm_id)}"


def tls_context(verify: ssl.SSLContext | bool) -> ssl.SSLContext:
    """The CLI's verify setting as an SSL context (False: no verification, as --insecure says)."""
    if isinstance(verify, ssl.SSLContext):
        return verify
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


@contextlib.contextmanager
def raw_terminal(fd: int) -> Iterator[None]:
    """Put the terminal ``fd`` in raw mode for the block; its settings come back afterwards."""
    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _open(
    stack: contextlib.ExitStack, url: str, token: str, context: ssl.SSLContext | None
) -> ClientConnection:
    """Connect, the connection closed with ``stack``; refusals become domain errors."""
    try:
        return stack.enter_context(
            connect(
                url,
                additional_headers={"Authorization": f"Bearer {token}"},
                ssl=context if url.startswith("wss:") else None,
                proxy=None,
                open_timeout=CONNECT_TIMEOUT_S,
                compression=None,
            )
        )
    except InvalidStatus as exc:
        status = exc.response.status_code
        if status in (401, 403):
            raise NotAuthenticated("the engine refused the console; log in again") from exc
        raise VirtfleetError(f"the engine refused the console: HTTP {status}") from exc
    except (OSError, TimeoutError, WebSocketException) as exc:
        raise HostUnreachable(f"cannot open the console at {url}: {exc}") from exc


def _send_input(ws: ClientConnection, fd: int, interactive: bool, stop: threading.Event) -> None:
    """Forward what ``fd`` gives until EOF, Ctrl-] (interactive) or ``stop``."""
    while not stop.is_set():
        ready, _, _ = select.select([fd], [], [], _POLL_S)
        if not ready:
            continue
        data = os.read(fd, _READ_CHUNK)
        if not data:
            return
        if interactive and ESCAPE in data:
            data = data[: data.index(ESCAPE)]
            stop.set()
        try:
            if data:
                ws.send(data)
        except ConnectionClosed:
            return
        if stop.is_set():
            ws.close()
            return


def _raise_for_close(ws: ClientConnection) -> None:
    code = ws.close_code
    if code is None or code in (1000, 1001, 1005):
        return
    error = error_class("close_code", code)
    raise error(ws.close_reason or f"the console closed (code {code})")


def relay_console(
    url: str,
    token: str,
    *,
    context: ssl.SSLContext | None,
    input_fd: int,
    output: BinaryIO,
    interactive: bool,
    timeout: float | None = None,
) -> None:
    """Relay ``input_fd`` to the console and its output to ``output`` until the console closes,
    Ctrl-] (interactive) or ``timeout`` seconds; errors of the engine or host are raised."""
    with contextlib.ExitStack() as stack:
        ws = _open(stack, url, token, context)
        _relay(ws, input_fd, output, interactive, timeout)
    _raise_for_close(ws)


def _relay(
    ws: ClientConnection,
    input_fd: int,
    output: BinaryIO,
    interactive: bool,
    timeout: float | None,
) -> None:
    stop = threading.Event()
    sender = threading.Thread(
        target=_send_input, args=(ws, input_fd, interactive, stop), daemon=True
    )
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        with raw_terminal(input_fd) if interactive else contextlib.nullcontext():
            sender.start()
            while not stop.is_set():
                wait = _POLL_S if deadline is None else min(_POLL_S, deadline - time.monotonic())
                if wait <= 0:
                    break
                try:
                    message = ws.recv(timeout=wait)
                except TimeoutError:
                    continue
                except ConnectionClosed:
                    break
                output.write(message if isinstance(message, bytes) else message.encode())
                output.flush()
    finally:
        stop.set()
        ws.close()
        if sender.is_alive():
            sender.join(_POLL_S * 5)
