"""The pieces of the consoles that need no host: URLs, tickets, the loop bridge, VNC's DES."""

from __future__ import annotations

import asyncio
import ssl
import threading
from datetime import datetime, timedelta, timezone

import pytest

from support.consoles import vnc_auth_response
from virtfleet.agent.hypervisor.libvirt.consoles import libvirt_time
from virtfleet.cli.serialconsole import console_url, tls_context
from virtfleet.common import apimodel as m
from virtfleet.common.apimodel.enums import DisplayType, GraphicsType
from virtfleet.common.errors import HostUnreachable, VirtfleetError
from virtfleet.engine.services.consoles import (
    TICKET_LENGTH,
    VNC_TICKET_LENGTH,
    EngineLoop,
    generate_ticket,
)
from virtfleet.engine.services.vm_devices import display_protocol

VM_ID = "7d9e3f0a-1b2c-4d5e-8f90-a1b2c3d4e5f6"


def test_console_url_turns_https_into_wss_and_http_into_ws() -> None:
    assert console_url("https://engine.example:8443", VM_ID) == (
        f"wss://engine.example:8443/ovirt-engine/services/console/serial/{VM_ID}"
    )
    assert console_url("http://127.0.0.1:8080/", VM_ID).startswith("ws://127.0.0.1:8080/")


def test_console_url_refuses_an_engine_url_without_http() -> None:
    with pytest.raises(VirtfleetError):
        console_url("engine.example", VM_ID)


def test_insecure_tls_context_checks_no_certificate() -> None:
    context = tls_context(False)
    assert context.verify_mode == ssl.CERT_NONE and not context.check_hostname
    assert tls_context(True).verify_mode == ssl.CERT_REQUIRED


def test_libvirt_time_is_utc_without_a_zone() -> None:
    paris = timezone(timedelta(hours=2))
    assert libvirt_time(datetime(2030, 5, 1, 14, 30, 5, tzinfo=paris)) == "2030-05-01T12:30:05"
    assert libvirt_time(datetime(2030, 5, 1, 14, 30, 5)) == "2030-05-01T14:30:05"


def test_generated_tickets_are_random_and_alphanumeric() -> None:
    tickets = {generate_ticket() for _ in range(50)}
    assert len(tickets) == 50
    assert all(len(t) == TICKET_LENGTH and t.isalnum() for t in tickets)


def test_generated_vnc_tickets_fit_vncs_eight_bytes() -> None:
    assert len(generate_ticket(GraphicsType.VNC)) == VNC_TICKET_LENGTH


def test_a_vm_without_a_display_type_gets_vnc() -> None:
    assert display_protocol(m.Vm()) == GraphicsType.VNC
    spice = m.Vm(display=m.Display(type=DisplayType.SPICE))
    assert display_protocol(spice) == GraphicsType.SPICE


async def test_the_engine_loop_runs_a_coroutine_for_a_worker_thread() -> None:
    loop = EngineLoop()
    await loop.start()
    seen: list[threading.Thread] = []

    async def work() -> int:
        seen.append(threading.current_thread())
        return 42

    assert await asyncio.to_thread(loop.run, work, 5.0) == 42
    assert seen == [threading.current_thread()]


async def test_the_engine_loop_gives_up_on_a_call_that_takes_too_long() -> None:
    loop = EngineLoop()
    await loop.start()

    async def slow() -> None:
        await asyncio.sleep(30)

    with pytest.raises(HostUnreachable, match="did not answer"):
        await asyncio.to_thread(loop.run, slow, 0.1)


def test_the_engine_loop_refuses_calls_before_the_engine_runs() -> None:
    async def work() -> None:
        return None

    with pytest.raises(HostUnreachable, match="not running"):
        EngineLoop().run(work, 1.0)


def test_vnc_authentication_is_des_with_bit_reversed_password_bytes() -> None:
    # DES test vector 0123456789ABCDEF under 133457799BBCDFF1 → 85E813540F0AB405; the VNC key
    # is the password with every byte's bits reversed, so pass the reversed key's bytes.
    password = bytes(int(f"{b:08b}"[::-1], 2) for b in bytes.fromhex("133457799BBCDFF1"))
    challenge = bytes.fromhex("0123456789ABCDEF") * 2
    response = vnc_auth_response(password, challenge)
    assert response.hex() == "85e813540f0ab405" * 2
