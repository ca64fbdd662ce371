"""One mutual-TLS agent connection per monitored host, shared by monitoring and commands."""

from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path

from virtfleet.common.errors import HostUnreachable
from virtfleet.common.pki import CertificateAuthority
from virtfleet.common.protocol import Method, P, R, Wire
from virtfleet.engine.agentclient import AgentClient, engine_client_context

log = logging.getLogger(__name__)


HostNotification = Callable[[str, str, Wire], Awaitable[None]]


class HostConnections:
    """The AgentClient of each connected host; used from the engine's event loop only."""

    def __init__(self, pki_dir: Path, *, connect_timeout: float = 10.0) -> None:
        self._pki_dir = pki_dir
        self._connect_timeout = connect_timeout
        self._ssl: ssl.SSLContext | None = None
        self._ca: CertificateAuthority | None = None
        # Two enrollments at once on a fresh engine must not each create a CA.
        self._pki_lock = threading.Lock()
        self._clients: dict[str, AgentClient] = {}

    def ca(self) -> CertificateAuthority:
        """The engine CA that signs agent certificates, created on first use (blocking)."""
        with self._pki_lock:
            if self._ca is None:
                self._ca = CertificateAuthority.load_or_create(self._pki_dir)
            return self._ca

    def ssl_context(self) -> ssl.SSLContext:
        """The engine's client TLS context, made (and its certificate issued) on first use."""
        ca = self.ca()
        with self._pki_lock:
            if self._ssl is None:
                self._ssl = engine_client_context(ca.directory)
            return self._ssl

    async def open(
        self,
        host_id: str,
        address: str,
        port: int,
        on_notification: HostNotification | None = None,
    ) -> AgentClient:
        """Connect to the host's agent, replacing any previous connection to it."""
        await self.drop(host_id)

        async def forward(name: str, params: Wire) -> None:
            if on_notification is not None:
                await on_notification(host_id, name, params)

        client = AgentClient(
            address,
            port,
            self.ssl_context(),
            on_notification=forward,
            connect_timeout=self._connect_timeout,
        )
        await client.connect()
        self._clients[host_id] = client
        log.info("connected to host host=%s uri=%s", host_id, client.uri)
        return client

    async def drop(self, host_id: str) -> None:
        client = self._clients.pop(host_id, None)
        if client is not None:
            await client.close()

    async def close_all(self) -> None:
        for host_id in list(self._clients):
            await self.drop(host_id)

    def connected(self, host_id: str) -> bool:
        client = self._clients.get(host_id)
        return client is not None and client.connected

    def client(self, host_id: str) -> AgentClient:
        """The host's live connection; HostUnreachable when there is none."""
        client = self._clients.get(host_id)
        if client is None or not client.connected:
            raise HostUnreachable(f"The engine is not connected to host {host_id}")
        return client

    async def call(
        self, host_id: str, method: Method[P, R], params: P, timeout: float | None = None
    ) -> R:
        return await self.client(host_id).call(method, params, timeout=timeout)
