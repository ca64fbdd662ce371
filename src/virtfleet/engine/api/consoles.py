"""Console proxies over WebSocket, and the VM-level ``ticket`` action.

``/ovirt-engine/services/console/vnc/{vm_id}``: noVNC's binary WebSocket (subprotocol ``binary``
when offered), relayed over TCP to the VM's VNC display on its host; the VNC server itself checks
the ticket (``POST .../graphicsconsoles/{id}/ticket`` or ``.../ticket``) in the RFB handshake.
``/ovirt-engine/services/console/serial/{vm_id}``: the VM's serial console as binary frames,
relayed to the agent's console channel (``protocol.SERIAL_CONSOLE_PATH``).

Both take the REST API's SSO bearer token: an ``Authorization: Bearer`` header, or an
``access_token`` query parameter for browsers, which cannot set headers on a WebSocket; without
a valid token the handshake is refused (HTTP 403). A console that cannot be reached closes after
the handshake with the close code its error declares (``common.errors``: 4404 no such VM, 4409 not
running, 4502 the host failed, 4503 host unreachable) and a reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException

from virtfleet.common.apimodel.enums import GraphicsType
from virtfleet.common.consolepaths import SERIAL_CONSOLE_PREFIX, VNC_CONSOLE_PREFIX
from virtfleet.common.errors import (
    AgentError,
    HostUnreachable,
    NotAuthenticated,
    VirtfleetError,
    error_class,
)
from virtfleet.engine.services.auth import AuthService, Principal
from virtfleet.engine.services.consoles import Consoles

log = logging.getLogger(__name__)

VNC_PATH = VNC_CONSOLE_PREFIX + "{vm_id}"
SERIAL_PATH = SERIAL_CONSOLE_PREFIX + "{vm_id}"
VNC_SUBPROTOCOL = "binary"
CLOSE_POLICY = 1008
CONNECT_TIMEOUT_S = 10.0
_CHUNK = 64 * 1024
_MAX_REASON = 120


async def _principal(ws: WebSocket, auth: AuthService) -> Principal:
    scheme, _, value = ws.headers.get("authorization", "").partition(" ")
    token = value.strip() if scheme.lower() == "bearer" else ""
    token = token or ws.query_params.get("access_token", "")
    if not token:
        raise NotAuthenticated("A console needs a Bearer token (header or access_token)")
    return await run_in_threadpool(auth.check_token, token)


def host_refusal_code(code: int) -> int:
    """The close code a client gets for the host's: the error it declares, else the host failed."""
    return error_class("close_code", code, default=AgentError).close_code


async def _close(ws: WebSocket, code: int = 1000, reason: str = "") -> None:
    """Close unless the client already went away."""
    reason = reason.encode()[:_MAX_REASON].decode(errors="ignore")
    with contextlib.suppress(RuntimeError, WebSocketDisconnect, OSError):
        await ws.close(code, reason)


async def _from_client(ws: WebSocket, forward: Callable[[bytes], Awaitable[None]]) -> None:
    """Pass every frame the client sends to ``forward`` until it disconnects."""
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return
        data = message.get("bytes")
        if data is None:
            data = (message.get("text") or "").encode()
        await forward(data)


async def _first_done(*jobs: Awaitable[None]) -> None:
    """Run the two directions of a relay; when one ends, the other is cancelled."""
    tasks = [asyncio.ensure_future(job) for job in jobs]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
    for result in results:
        expected = (asyncio.CancelledError, WebSocketDisconnect, ConnectionClosed, OSError)
        if isinstance(result, BaseException) and not isinstance(result, expected):
            raise result


class ConsoleProxy:
    """The two console endpoints of one engine."""

    def __init__(self, auth: AuthService, consoles: Consoles) -> None:
        self.auth = auth
        self.consoles = consoles

    async def _open(self, ws: WebSocket, subprotocol: str | None = None) -> str | None:
        """Authenticate and accept; the VM id, or None when the client was refused."""
        try:
            principal = await self._principal(ws)
        except NotAuthenticated as exc:
            log.info("console refused path=%s: %s", ws.url.path, exc.detail)
            await ws.close(CLOSE_POLICY)
            return None
        await ws.accept(subprotocol=subprotocol)
        vm_id = str(ws.path_params["vm_id"])
        log.info("console opened path=%s user=%s", ws.url.path, principal.user_name)
        return vm_id

    async def _principal(self, ws: WebSocket) -> Principal:
        return await _principal(ws, self.auth)

    # --- VNC ---------------------------------------------------------------------------------

    async def vnc(self, ws: WebSocket) -> None:
        offered = ws.scope.get("subprotocols") or []
        vm_id = await self._open(ws, VNC_SUBPROTOCOL if VNC_SUBPROTOCOL in offered else None)
        if vm_id is None:
            return
        try:
            address, port = await self.consoles.display_address(vm_id, GraphicsType.VNC)
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(address, port), CONNECT_TIMEOUT_S
            )
        except VirtfleetError as exc:
            await _close(ws, exc.close_code, exc.detail)
            return
        except (OSError, TimeoutError) as exc:
            await _close(ws, HostUnreachable.close_code, f"cannot reach the display: {exc}")
            return
        log.info("VNC relay started vm_id=%s display=%s:%d", vm_id, address, port)

        async def to_display(data: bytes) -> None:
            writer.write(data)
            await writer.drain()

        async def to_client() -> None:
            while data := await reader.read(_CHUNK):
                await ws.send_bytes(data)

        try:
            await _first_done(_from_client(ws, to_display), to_client())
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            await _close(ws)
        log.info("VNC relay ended vm_id=%s", vm_id)

    # --- serial ------------------------------------------------------------------------------

    async def serial(self, ws: WebSocket) -> None:
        vm_id = await self._open(ws)
        if vm_id is None:
            return
        try:
            uri, context = await self.consoles.serial_channel(vm_id)
            agent = await self._connect_agent(uri, context)
        except VirtfleetError as exc:
            await _close(ws, exc.close_code, exc.detail)
            return
        code, reason = 1000, ""
        try:

            async def to_client() -> None:
                nonlocal code, reason
                try:
                    async for message in agent:
                        await ws.send_bytes(
                            message if isinstance(message, bytes) else message.encode()
                        )
                except ConnectionClosed:
                    pass
                if agent.close_code is not None and 4000 <= agent.close_code < 5000:
                    code, reason = host_refusal_code(agent.close_code), agent.close_reason or ""

            await _first_done(_from_client(ws, agent.send), to_client())
        finally:
            await agent.close()
            await _close(ws, code, reason)
        log.info("serial console relay ended vm_id=%s", vm_id)

    @staticmethod
    async def _connect_agent(uri: str, context: ssl.SSLContext) -> ClientConnection:
        try:
            return await connect(
                uri,
                ssl=context,
                proxy=None,
                open_timeout=CONNECT_TIMEOUT_S,
                compression=None,
            )
        except (OSError, TimeoutError, WebSocketException, ssl.SSLError) as exc:
            raise HostUnreachable(f"cannot reach the console at {uri}: {exc}") from exc


def console_routes(auth: AuthService, consoles: Consoles) -> list[BaseRoute]:
    """The VNC and serial console WebSocket endpoints."""
    proxy = ConsoleProxy(auth, consoles)
    return [
        WebSocketRoute(VNC_PATH, proxy.vnc),
        WebSocketRoute(SERIAL_PATH, proxy.serial),
    ]
