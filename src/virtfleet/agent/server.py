"""The agent side of the protocol: a WebSocket listener answering JSON-RPC calls from the engine.

Enrollment and re-enrollment: the listener always accepts TLS clients without a certificate, but
such clients may only call the two enrollment methods, both gated by the enrollment secret.
Before enrollment the listener shows a self-signed bootstrap certificate and every other call
gets ``Conflict("agent is not enrolled")``. Once enrolled (now or at a later start) it shows the
agent's CA-signed certificate and verifies any client certificate against the engine CA;
a client without one gets ``NotAuthenticated`` for every non-enrollment call. Re-enrollment (an
engine re-installing the host, possibly with a new CA) is thus the same two calls with the
secret; on completion the new key, certificate and CA replace the old ones and the listener
restarts on the same port with them, dropping existing connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import ssl
from collections.abc import Coroutine
from typing import Any, cast

from pydantic import ValidationError
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from virtfleet.agent import serialrelay
from virtfleet.agent.config import AgentConfig
from virtfleet.agent.handlers import Handler, StorageBackend, build_handlers
from virtfleet.agent.hypervisor.base import HypervisorDriver
from virtfleet.agent.identity import AgentIdentity
from virtfleet.common import pki, rpc
from virtfleet.common import protocol as p
from virtfleet.common.errors import Conflict, InvalidInput, NotAuthenticated, VirtfleetError

log = logging.getLogger(__name__)

# How long a stopping agent waits for its connections to close before it aborts them.
STOP_GRACE_S = 5.0

_NOTIFICATION_BACKLOG = 10_000
_STATS_TIMEOUT_S = 30.0
_REPLY_GRACE_S = 10.0


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors(include_url=False):
        where = ".".join(str(part) for part in item["loc"]) or "params"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


class AgentServer:
    """One host's agent endpoint; several may run in one event loop (simulated hosts)."""

    def __init__(
        self,
        config: AgentConfig,
        driver: HypervisorDriver,
        storage: StorageBackend,
        *,
        identity: AgentIdentity | None = None,
    ) -> None:
        self._config = config
        self._driver = driver
        self._identity = identity or AgentIdentity.load_or_create(config.data_dir)
        self._handlers: dict[str, Handler] = build_handlers(driver, storage)
        # The dispatcher validates params with the method's model, so these casts hold.
        self._handlers[p.HOST_REQUEST_ENROLLMENT.name] = cast(Handler, self._request_enrollment)
        self._handlers[p.HOST_COMPLETE_ENROLLMENT.name] = cast(Handler, self._complete_enrollment)
        self._server: Server | None = None
        self._port: int | None = None
        self._enrolled = False
        self._engine: ServerConnection | None = None
        self._outbox: asyncio.Queue[str] = asyncio.Queue(_NOTIFICATION_BACKLOG)
        self._background: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._running = False

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the agent server is not started")
        return self._port

    @property
    def identity(self) -> AgentIdentity:
        return self._identity

    @property
    def enrolled(self) -> bool:
        return self._enrolled

    @property
    def engine_connected(self) -> bool:
        return self._engine is not None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._enrolled = await asyncio.to_thread(lambda: self._identity.enrolled)
        self._server = await self._listen(self._config.port)
        self._port = int(self._server.sockets[0].getsockname()[1])
        self._running = True
        self._driver.subscribe(self._on_vm_state)
        self._spawn(self._push_notifications())
        self._spawn(self._report_stats())
        log.info(
            "agent listening host_uuid=%s port=%d enrolled=%s",
            self._identity.host_uuid,
            self._port,
            self._enrolled,
        )

    async def stop(self) -> None:
        self._running = False
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        if self._server is not None:
            await self._close_listener(self._server)
            self._server = None
        self._engine = None

    # --- listener --------------------------------------------------------------------------

    @staticmethod
    async def _close_listener(server: Server) -> None:
        """Close politely, but never wait forever on a peer that does not answer the close."""
        server.close()
        try:
            await asyncio.wait_for(server.wait_closed(), STOP_GRACE_S)
        except TimeoutError:
            log.warning("connections did not close in time; aborting them")
            for connection in list(server.connections):
                connection.transport.abort()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), STOP_GRACE_S)

    def _ssl_context(self) -> ssl.SSLContext:
        ident = self._identity
        if self._enrolled:
            return pki.server_ssl_context(
                ident.cert_file,
                ident.key_file,
                client_ca_file=ident.ca_file,
                client_cert_optional=True,
            )
        return pki.server_ssl_context(
            ident.bootstrap_cert_file, ident.bootstrap_key_file, client_ca_file=None
        )

    async def _listen(self, port: int) -> Server:
        return await serve(
            self._handle,
            self._config.listen_host,
            port,
            ssl=self._ssl_context(),
            max_size=rpc.MAX_MESSAGE_BYTES,
            compression=None,
        )

    async def _relisten(self, listening: asyncio.Event, replied: asyncio.Event) -> None:
        """Reopen the listener with the enrolled identity on the same port.

        The new listener is up before the enrollment reply leaves (``listening``), so the engine
        can connect with mutual TLS as soon as it has the reply; the old connections are closed
        only once the reply is sent (``replied``).
        """
        old = self._server
        try:
            if old is None or not self._running:
                return
            # Stop accepting first so the new socket can bind the same port at once.
            old.server.close()
            self._server = await self._listen(self.port)
            log.info("agent listener switched to mutual TLS port=%d", self.port)
        except OSError:
            log.exception("cannot reopen the agent listener port=%d", self.port)
            return
        finally:
            listening.set()
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(replied.wait(), _REPLY_GRACE_S)
        finally:
            old.close()  # even when stop() cancels us: no listener is left behind
        await old.wait_closed()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # --- connections -----------------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        authenticated = self._enrolled and bool(ws.transport.get_extra_info("peercert"))
        path = ws.request.path if ws.request is not None else ""
        if path.startswith(p.SERIAL_CONSOLE_PATH):
            await self._serial_console(ws, path.removeprefix(p.SERIAL_CONSOLE_PATH), authenticated)
            return
        if authenticated:
            # Newest wins: notifications go to the engine's latest connection.
            self._engine = ws
            log.info("engine connected peer=%s", ws.remote_address)
        calls: set[asyncio.Task[None]] = set()
        try:
            async for message in ws:
                task = asyncio.create_task(self._answer(ws, message, authenticated))
                calls.add(task)
                task.add_done_callback(calls.discard)
        except ConnectionClosed:
            pass
        finally:
            if self._engine is ws:
                self._engine = None
            for task in calls:
                task.cancel()

    async def _serial_console(self, ws: ServerConnection, vm_id: str, authenticated: bool) -> None:
        """A console channel (``serialrelay``), for the enrolled engine only."""
        if not authenticated:
            await serialrelay.refuse(ws, NotAuthenticated("the engine's certificate is required"))
            return
        await serialrelay.relay_serial_console(ws, self._driver, vm_id)

    async def _answer(self, ws: ServerConnection, data: str | bytes, authenticated: bool) -> None:
        try:
            msg = rpc.decode_message(data)
        except rpc.ProtocolError as e:
            await self._send(ws, rpc.encode_error(e.id, e.code, e.message))
            return
        if not isinstance(msg, rpc.Request):
            log.debug("ignoring a message that is not a call: %r", msg)
            return
        reply, ok = await self._dispatch(msg, authenticated)
        replied = asyncio.Event()
        try:
            if ok and msg.method == p.HOST_COMPLETE_ENROLLMENT.name:
                self._enrolled = True
                listening = asyncio.Event()
                self._spawn(self._relisten(listening, replied))
                await listening.wait()
            await self._send(ws, reply)
        finally:
            replied.set()

    async def _send(self, ws: ServerConnection, text: str) -> None:
        try:
            await ws.send(text)
        except ConnectionClosed:
            log.debug("reply dropped: connection closed")

    async def _dispatch(self, req: rpc.Request, authenticated: bool) -> tuple[str, bool]:
        method = p.METHODS.get(req.method)
        if method is None:
            return rpc.encode_error(
                req.id, rpc.ErrorCode.METHOD_NOT_FOUND, f"unknown method {req.method}"
            ), False
        try:
            self._authorize(method, authenticated)
            try:
                params = method.params.model_validate(req.params)
            except ValidationError as e:
                raise InvalidInput(f"invalid params for {method.name}: {_describe(e)}") from e
            handler = self._handlers[method.name]
            try:
                result = await asyncio.wait_for(
                    asyncio.to_thread(handler, params), method.timeout_s
                )
            except TimeoutError:
                return rpc.encode_error(
                    req.id,
                    rpc.ErrorCode.TIMED_OUT,
                    f"{method.name} did not finish within {method.timeout_s:g} s",
                ), False
            if not isinstance(result, method.result):
                raise TypeError(f"{method.name} handler returned {type(result).__name__}")
            return rpc.encode_result(req.id, result), True
        except Exception as e:
            if not isinstance(e, VirtfleetError):
                log.exception("call failed method=%s", method.name)
            error = rpc.error_for_exception(e)
            return rpc.encode_error(req.id, error.code, error.message, error.data), False

    def _authorize(self, method: p.Method[p.Wire, p.Wire], authenticated: bool) -> None:
        if not method.needs_enrollment:
            return  # the handler checks the enrollment secret
        if not self._enrolled:
            raise Conflict("agent is not enrolled")
        if not authenticated:
            raise NotAuthenticated("a client certificate signed by the engine CA is required")

    # --- enrollment (run in worker threads) ------------------------------------------------

    def _check_secret(self, given: str) -> None:
        secret = self._config.enrollment_secret
        if secret is None:
            raise NotAuthenticated("enrollment is disabled: the agent has no enrollment secret")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            raise NotAuthenticated("wrong enrollment secret")

    def _request_enrollment(self, req: p.EnrollmentRequest) -> p.EnrollmentOffer:
        self._check_secret(req.secret)
        csr_pem = self._identity.begin_enrollment()
        return p.EnrollmentOffer(
            csr_pem=csr_pem.decode(),
            host_uuid=self._identity.host_uuid,
            hostname=self._identity.hostname,
        )

    def _complete_enrollment(self, req: p.EnrollmentCompletion) -> p.Empty:
        self._check_secret(req.secret)
        self._identity.complete_enrollment(req.ca_pem.encode(), req.cert_pem.encode())
        return p.Empty()

    # --- notifications ---------------------------------------------------------------------

    def _on_vm_state(self, state: p.VmState) -> None:
        """Driver callback, from any thread."""
        loop = self._loop
        if loop is None or not self._running:
            return
        text = rpc.encode_notification(p.VM_STATE_CHANGED.name, state)
        # A closed loop raises RuntimeError: the agent is shutting down, nothing to tell.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._enqueue, text)

    def _enqueue(self, text: str) -> None:
        if self._engine is None or not self._running:
            return  # the engine resynchronises with VM.list when it connects
        try:
            self._outbox.put_nowait(text)
        except asyncio.QueueFull:
            log.warning("notification dropped: backlog full")

    # The loops below also end on ``_running``: on Python 3.11 a ``wait_for`` whose inner call
    # finishes just as the task is cancelled loses the cancellation, and stop would wait forever.

    async def _push_notifications(self) -> None:
        while self._running:
            text = await self._outbox.get()
            ws = self._engine
            if ws is not None:
                await self._send(ws, text)

    async def _report_stats(self) -> None:
        while self._running:
            await asyncio.sleep(self._config.stats_interval_s)
            if self._engine is None:
                continue
            try:
                host = await asyncio.wait_for(
                    asyncio.to_thread(self._driver.host_stats), _STATS_TIMEOUT_S
                )
                vms = await asyncio.wait_for(
                    asyncio.to_thread(self._driver.vm_stats), _STATS_TIMEOUT_S
                )
            except Exception:
                log.exception("collecting stats failed")
                continue
            report = p.StatsReport(host=host, vms=vms)
            self._enqueue(rpc.encode_notification(p.HOST_STATS_REPORT.name, report))
