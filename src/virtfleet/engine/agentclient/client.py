"""The engine's connection to one agent: typed calls multiplexed by id, pushed notifications.

Every transport failure (refused, TLS rejected, dropped, timed out) surfaces as
``HostUnreachable``; an error the agent answers re-raises the mapped domain error.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import ssl
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Self

from pydantic import ValidationError
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException

from virtfleet.common import rpc
from virtfleet.common.errors import AgentError, HostUnreachable
from virtfleet.common.protocol import NOTIFICATIONS, Method, P, R, Wire

log = logging.getLogger(__name__)

NotificationCallback = Callable[[str, Wire], Awaitable[None]]

CONNECT_TIMEOUT_S = 10.0


class AgentClient:
    """One WebSocket connection to an agent; safe for concurrent calls from one event loop."""

    def __init__(
        self,
        address: str,
        port: int,
        ssl_context: ssl.SSLContext,
        *,
        on_notification: NotificationCallback | None = None,
        connect_timeout: float = CONNECT_TIMEOUT_S,
    ) -> None:
        self.address = address
        self.port = port
        self._ssl = ssl_context
        self._on_notification = on_notification
        self._connect_timeout = connect_timeout
        self._ws: ClientConnection | None = None
        self._pending: dict[int, asyncio.Future[rpc.Response | rpc.ErrorResponse]] = {}
        self._ids = itertools.count(1)
        self._reader: asyncio.Task[None] | None = None
        self._dispatcher: asyncio.Task[None] | None = None
        self._inbox: asyncio.Queue[tuple[str, Wire | int]] = asyncio.Queue()
        # The newest unprocessed snapshot of each kind, with its arrival number; the inbox holds
        # only that number, so a dispatcher that falls behind skips to the newest snapshot.
        self._snapshots: dict[str, tuple[int, Any]] = {}
        self._arrivals = itertools.count(1)

    @property
    def uri(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"wss://{host}:{self.port}/"

    @property
    def connected(self) -> bool:
        return self._ws is not None and self._reader is not None and not self._reader.done()

    async def connect(self) -> None:
        if self.connected:
            return
        await self.close()
        try:
            ws = await connect(
                self.uri,
                ssl=self._ssl,
                proxy=None,
                open_timeout=self._connect_timeout,
                max_size=rpc.MAX_MESSAGE_BYTES,
                compression=None,
            )
        except (OSError, TimeoutError, WebSocketException, ssl.SSLError) as e:
            raise HostUnreachable(f"cannot connect to agent at {self.uri}: {e}") from e
        self._ws = ws
        self._reader = asyncio.create_task(self._read(ws))
        if self._on_notification is not None:
            self._dispatcher = asyncio.create_task(
                self._dispatch_notifications(self._on_notification)
            )

    async def close(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            await ws.close()
        tasks = [t for t in (self._reader, self._dispatcher) if t is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            # asyncio.wait, not ``suppress(CancelledError)``: a cancellation of the caller itself
            # (a monitor being stopped while it closes this client) must still reach the caller.
            await asyncio.wait(tasks)
        self._reader = self._dispatcher = None
        self._fail_pending(HostUnreachable(f"connection to agent at {self.uri} closed"))

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def call(self, method: Method[P, R], params: P, *, timeout: float | None = None) -> R:
        """Send one call and wait for its result (at most ``timeout``, else the method's)."""
        ws = self._ws
        if ws is None or not self.connected:
            raise HostUnreachable(f"not connected to agent at {self.uri}")
        limit = method.timeout_s if timeout is None else timeout
        call_id = next(self._ids)
        future: asyncio.Future[rpc.Response | rpc.ErrorResponse] = (
            asyncio.get_running_loop().create_future()
        )
        self._pending[call_id] = future
        try:
            try:
                await ws.send(rpc.encode_request(call_id, method.name, params))
            except ConnectionClosed as e:
                raise HostUnreachable(f"connection to agent at {self.uri} lost: {e}") from e
            try:
                reply = await asyncio.wait_for(future, limit)
            except TimeoutError as e:
                raise HostUnreachable(
                    f"agent at {self.uri} did not answer {method.name} within {limit:g} s"
                ) from e
        finally:
            self._pending.pop(call_id, None)
        if isinstance(reply, rpc.ErrorResponse):
            raise rpc.exception_for_error(reply)
        try:
            return method.result.model_validate(reply.result)
        except ValidationError as e:
            raise AgentError(f"agent sent a malformed {method.name} result: {e}") from e

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for data in ws:
                self._receive(data)
        except ConnectionClosed:
            pass
        finally:
            self._fail_pending(HostUnreachable(f"connection to agent at {self.uri} lost"))

    def _receive(self, data: str | bytes) -> None:
        try:
            msg = rpc.decode_message(data)
        except rpc.ProtocolError as e:
            log.warning("unreadable message from agent uri=%s error=%s", self.uri, e.message)
            return
        if isinstance(msg, rpc.NotificationMessage):
            self._receive_notification(msg)
        elif isinstance(msg, rpc.Response | rpc.ErrorResponse):
            future = self._pending.get(msg.id) if isinstance(msg.id, int) else None
            if future is None:
                log.warning("reply to no pending call uri=%s id=%r", self.uri, msg.id)
            elif not future.done():
                future.set_result(msg)
        else:
            log.warning("agent sent a call, ignored uri=%s method=%s", self.uri, msg.method)

    def _receive_notification(self, msg: rpc.NotificationMessage) -> None:
        kind = NOTIFICATIONS.get(msg.method)
        if kind is None:
            log.warning("unknown notification uri=%s method=%s", self.uri, msg.method)
            return
        if self._on_notification is None:
            return
        if kind.snapshot:
            arrival = next(self._arrivals)
            self._snapshots[msg.method] = (arrival, msg.params)
            self._inbox.put_nowait((msg.method, arrival))
            return
        params = self._validated(msg.method, msg.params)
        if params is not None:
            self._inbox.put_nowait((msg.method, params))

    def _validated(self, method: str, raw: Any) -> Wire | None:
        try:
            return NOTIFICATIONS[method].params.model_validate(raw)
        except ValidationError as e:
            log.warning("malformed notification uri=%s method=%s: %s", self.uri, method, e)
            return None

    def _newest_snapshot(self, method: str, arrival: int) -> Wire | None:
        """The snapshot queued as ``arrival``, or None when a newer one is queued behind it."""
        newest = self._snapshots.get(method)
        if newest is None or newest[0] != arrival:
            return None
        del self._snapshots[method]
        return self._validated(method, newest[1])

    async def _dispatch_notifications(self, callback: NotificationCallback) -> None:
        # One at a time, in arrival order: a VM's state changes must not be reordered.
        while True:
            name, queued = await self._inbox.get()
            params = self._newest_snapshot(name, queued) if isinstance(queued, int) else queued
            if params is None:
                continue
            try:
                await callback(name, params)
            except Exception:
                log.exception("notification handler failed method=%s", name)

    def _fail_pending(self, error: HostUnreachable) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(error)
