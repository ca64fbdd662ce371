"""A running domain's consoles: display tickets through ``updateDeviceFlags`` and the serial
console through ``openConsole`` on a non-blocking stream served by libvirt's event loop."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

import libvirt

from virtfleet.agent.hypervisor.base import ConsoleOutput, SerialConsole
from virtfleet.common.errors import AgentError, Conflict, NotFound
from virtfleet.common.protocol import DisplayEndpoint, DisplayTicket

from .connection import libvirt_errors

log = logging.getLogger(__name__)

_READ_CHUNK = 64 * 1024
_WRITE_TIMEOUT_S = 10.0
_WRITE_RETRY_S = 0.01
_WOULD_BLOCK = -2
_STREAM_EVENTS = (
    libvirt.VIR_STREAM_EVENT_READABLE
    | libvirt.VIR_STREAM_EVENT_ERROR
    | libvirt.VIR_STREAM_EVENT_HANGUP
)


def libvirt_time(moment: datetime) -> str:
    """``passwdValidTo`` is UTC without a zone suffix; a naive time is taken as UTC."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def _running(dom: Any, vm_id: str) -> None:
    if not dom.isActive():
        raise Conflict(f"VM {vm_id} is not running")


def _graphics(dom: Any, vm_id: str, protocol: str) -> ET.Element:
    """The live ``<graphics>`` element of ``protocol``; NotFound when the VM has none."""
    root = ET.fromstring(dom.XMLDesc(0))
    for node in root.iterfind("devices/graphics"):
        if node.get("type") == protocol:
            return node
    raise NotFound(f"VM {vm_id} has no {protocol} display")


def _endpoint(vm_id: str, protocol: str, node: ET.Element) -> DisplayEndpoint:
    listen = node.find("listen")
    address = node.get("listen") or (listen.get("address") if listen is not None else None)
    return DisplayEndpoint(
        vm_id=vm_id,
        protocol=protocol,
        address=address or "127.0.0.1",
        port=int(node.get("port") or -1),
    )


def display_endpoint(dom: Any, vm_id: str, protocol: str) -> DisplayEndpoint:
    with libvirt_errors(f"reading the display of VM {vm_id}"):
        _running(dom, vm_id)
        return _endpoint(vm_id, protocol, _graphics(dom, vm_id, protocol))


def set_ticket(dom: Any, ticket: DisplayTicket) -> DisplayEndpoint:
    """Change the live display's password; clients already connected stay connected."""
    with libvirt_errors(f"setting the display ticket of VM {ticket.vm_id}"):
        _running(dom, ticket.vm_id)
        node = _graphics(dom, ticket.vm_id, ticket.protocol)
        node.set("passwd", ticket.password)
        node.set("passwdValidTo", libvirt_time(ticket.valid_to))
        node.set("connected", "keep")
        dom.updateDeviceFlags(ET.tostring(node, encoding="unicode"), libvirt.VIR_DOMAIN_AFFECT_LIVE)
        log.info("display ticket set vm_id=%s protocol=%s", ticket.vm_id, ticket.protocol)
        return _endpoint(ticket.vm_id, ticket.protocol, node)


class SimulatedDisplays:
    """The test driver changes no live device: simulated hosts keep their tickets here."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tickets: dict[tuple[str, str], DisplayTicket] = {}

    def set_ticket(self, dom: Any, ticket: DisplayTicket) -> DisplayEndpoint:
        endpoint = display_endpoint(dom, ticket.vm_id, ticket.protocol)
        with self._lock:
            self._tickets[ticket.vm_id, ticket.protocol] = ticket
        return endpoint

    def ticket(self, vm_id: str, protocol: str = "vnc") -> DisplayTicket | None:
        with self._lock:
            return self._tickets.get((vm_id, protocol))


class LibvirtSerialConsole(SerialConsole):
    """The domain's first console on a non-blocking stream; output arrives on libvirt's event
    loop thread and is handed to ``on_output`` as it comes."""

    def __init__(self, conn: Any, dom: Any, vm_id: str, on_output: ConsoleOutput) -> None:
        self._vm_id = vm_id
        self._on_output = on_output
        self._lock = threading.Lock()
        self._closed = False
        with libvirt_errors(f"opening the serial console of VM {vm_id}"):
            _running(dom, vm_id)
            self._stream = conn.newStream(libvirt.VIR_STREAM_NONBLOCK)
            try:
                dom.openConsole(None, self._stream, libvirt.VIR_DOMAIN_CONSOLE_FORCE)
                self._stream.eventAddCallback(_STREAM_EVENTS, self._on_event, None)
            except libvirt.libvirtError:
                self._abort()
                raise
        log.info("serial console opened vm_id=%s", vm_id)

    def _on_event(self, stream: Any, events: int, _opaque: Any) -> None:
        if events & libvirt.VIR_STREAM_EVENT_READABLE and not self._drain(stream):
            return
        if events & (libvirt.VIR_STREAM_EVENT_ERROR | libvirt.VIR_STREAM_EVENT_HANGUP):
            self._finish()

    def _drain(self, stream: Any) -> bool:
        """Deliver what can be read now; False once the console has ended."""
        while True:
            try:
                data = stream.recv(_READ_CHUNK)
            except libvirt.libvirtError as exc:
                log.info("serial console ended vm_id=%s: %s", self._vm_id, exc)
                self._finish()
                return False
            if data == _WOULD_BLOCK:
                return True
            if not data:
                self._finish()
                return False
            self._on_output(bytes(data))

    def _finish(self) -> None:
        """The guest side ended: tell the listener once, then release the stream."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._abort()
        self._on_output(b"")

    def _abort(self) -> None:
        with contextlib.suppress(libvirt.libvirtError):
            self._stream.eventRemoveCallback()
        with contextlib.suppress(libvirt.libvirtError):
            self._stream.abort()

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        deadline = time.monotonic() + _WRITE_TIMEOUT_S
        while view:
            with self._lock:
                if self._closed:
                    raise Conflict(f"the serial console of VM {self._vm_id} is closed")
                try:
                    sent = self._stream.send(bytes(view))
                except libvirt.libvirtError as exc:
                    raise AgentError(f"writing to the serial console failed: {exc}") from exc
            if sent == _WOULD_BLOCK:
                if time.monotonic() > deadline:
                    raise AgentError(f"the serial console of VM {self._vm_id} takes no input")
                time.sleep(_WRITE_RETRY_S)
                continue
            view = view[sent:]

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._abort()
        log.info("serial console closed vm_id=%s", self._vm_id)
