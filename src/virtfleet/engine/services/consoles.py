"""Console tickets and endpoints of running VMs, and how sync services reach agents for them.

Services run in worker threads, while agent connections live on the engine's event loop. A
ticket is one short agent call, not a multi-step job, so ``EngineLoop`` (a background component
that remembers the loop on start) runs that call on the loop and the worker thread waits for it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import secrets
import ssl
import string
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from virtfleet.common import apimodel as m
from virtfleet.common import protocol as p
from virtfleet.common.apimodel.enums import GraphicsType
from virtfleet.common.clock import Clock
from virtfleet.common.errors import Conflict, HostUnreachable, InvalidInput, NotFound
from virtfleet.engine.core.statuses import HOLDING_VM_STATUSES
from virtfleet.engine.monitoring.connections import HostConnections
from virtfleet.engine.persistence import repositories as repos
from virtfleet.engine.persistence.database import Database
from virtfleet.engine.services.vm_devices import display_protocol

log = logging.getLogger(__name__)

DEFAULT_EXPIRY_S = 120
MAX_EXPIRY_S = 7 * 24 * 3600
TICKET_LENGTH = 12
VNC_TICKET_LENGTH = 8
"""VNC authentication uses 8 bytes of the password; libvirt refuses longer ones."""
_ANY_ADDRESS = {"", "0.0.0.0", "::", "[::]"}
_TICKET_ALPHABET = string.ascii_letters + string.digits
_CALL_GRACE_S = 5.0

T = TypeVar("T")


class EngineLoop:
    """The engine's event loop, remembered on start so worker threads can run coroutines on it."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()

    async def stop(self) -> None:
        self._loop = None

    def run(self, work: Callable[[], Awaitable[T]], timeout: float) -> T:
        """Run ``work()`` on the loop and wait for it; only from threads other than the loop's."""
        loop = self._loop
        if loop is None:
            raise HostUnreachable("The engine is not running, so no host can be reached")

        async def call() -> T:
            return await work()

        future = asyncio.run_coroutine_threadsafe(call(), loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise HostUnreachable(f"The host did not answer within {timeout:g} s") from None


@dataclass(frozen=True)
class RunningVm:
    vm: m.Vm
    host: m.Host

    @property
    def host_id(self) -> str:
        assert self.host.id is not None
        return self.host.id


def generate_ticket(protocol: GraphicsType = GraphicsType.SPICE) -> str:
    length = VNC_TICKET_LENGTH if protocol == GraphicsType.VNC else TICKET_LENGTH
    return "".join(secrets.choice(_TICKET_ALPHABET) for _ in range(length))


class Consoles:
    """Display tickets (sync, for services) and console endpoints (async, for the proxies)."""

    def __init__(
        self, database: Database, clock: Clock, connections: HostConnections, loop: EngineLoop
    ) -> None:
        self.db = database
        self.clock = clock
        self.connections = connections
        self.loop = loop

    def running_vm(self, vm_id: str) -> RunningVm:
        """The VM and the host it runs on; Conflict when it does not run."""
        with self.db.read() as conn:
            vm = repos.vms.get(conn, vm_id)
            host_id = vm.host.id if vm.host is not None else None
            if vm.status not in HOLDING_VM_STATUSES or host_id is None:
                raise Conflict(f"Cannot get a console of VM {vm.name}. The VM is not running.")
            return RunningVm(vm, repos.hosts.get(conn, host_id))

    # --- tickets (worker threads) ----------------------------------------------------------

    def set_ticket(
        self, vm_id: str, protocol: GraphicsType | None, wanted: m.Ticket | None
    ) -> m.Ticket:
        """Give the VM's display a password valid ``expiry`` seconds (a generated one if none)."""
        running = self.running_vm(vm_id)
        kind = protocol or display_protocol(running.vm)
        value = wanted.value if wanted is not None and wanted.value else generate_ticket(kind)
        if kind == GraphicsType.VNC and len(value.encode()) > VNC_TICKET_LENGTH:
            raise InvalidInput(f"A VNC ticket has at most {VNC_TICKET_LENGTH} characters")
        expiry = wanted.expiry if wanted is not None and wanted.expiry is not None else None
        expiry = DEFAULT_EXPIRY_S if expiry is None else expiry
        if not 1 <= expiry <= MAX_EXPIRY_S:
            raise InvalidInput(f"The ticket expiry must be between 1 and {MAX_EXPIRY_S} seconds")
        ticket = p.DisplayTicket(
            vm_id=vm_id,
            protocol=kind.value,
            password=value,
            valid_to=self.clock.now() + timedelta(seconds=expiry),
        )
        connections = self.connections
        self.loop.run(
            lambda: connections.call(running.host_id, p.VM_SET_TICKET, ticket),
            p.VM_SET_TICKET.timeout_s + _CALL_GRACE_S,
        )
        log.info("console ticket set vm_id=%s protocol=%s expiry=%d", vm_id, kind.value, expiry)
        return m.Ticket(value=value, expiry=expiry)

    def current_display(self, vm_id: str, protocol: GraphicsType) -> tuple[str, int] | None:
        """Where the running VM's display listens now; None when it has no port (a simulated
        host), no longer runs, or its host cannot be reached (a listing should not fail)."""
        try:
            return self.loop.run(
                lambda: self.display_address(vm_id, protocol),
                p.VM_GET_DISPLAY.timeout_s + _CALL_GRACE_S,
            )
        except (Conflict, NotFound, HostUnreachable):
            return None

    # --- endpoints (event loop) ------------------------------------------------------------

    async def display_address(self, vm_id: str, protocol: GraphicsType) -> tuple[str, int]:
        """Where the engine reaches the running VM's display: the host's address when the
        display listens on every address of its host."""
        running = await asyncio.to_thread(self.running_vm, vm_id)
        ref = p.DisplayRef(vm_id=vm_id, protocol=protocol.value)
        endpoint = await self.connections.call(running.host_id, p.VM_GET_DISPLAY, ref)
        if endpoint.port <= 0:
            raise Conflict(f"The {protocol.value} display of VM {running.vm.name} has no port")
        address = endpoint.address
        if address in _ANY_ADDRESS:
            address = running.host.address or ""
        return address, endpoint.port

    async def serial_channel(self, vm_id: str) -> tuple[str, ssl.SSLContext]:
        """The agent URI relaying the VM's serial console, and the engine's TLS client context."""
        running = await asyncio.to_thread(self.running_vm, vm_id)
        if running.vm.console is not None and running.vm.console.enabled is False:
            raise Conflict(
                f"The serial console of VM {running.vm.name} is disabled (console.enabled is false)"
            )
        connections = self.connections
        context = await asyncio.to_thread(connections.ssl_context)
        address = running.host.address or ""
        host = f"[{address}]" if ":" in address else address
        port = running.host.port or p.DEFAULT_AGENT_PORT
        return f"wss://{host}:{port}{p.SERIAL_CONSOLE_PATH}{vm_id}", context
