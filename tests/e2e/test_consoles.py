"""Consoles of a real QEMU guest on a testbed host, through the engine: a ticket opens the VNC
display behind the engine's WebSocket proxy (RFB with VNC authentication), a wrong or expired
ticket does not, and the serial console shows the guest's output."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from support.consoles import RfbError, ServerInit, relayed_output, rfb_handshake, served, sso_token
from support.e2e import lab_fixtures, requires
from virtfleet.testbed.initramfs import UP_MARKER
from virtfleet.testbed.lab import (
    ADMIN_PASSWORD,
    LAB_TOOLS,
    Lab,
    active_data_domain,
    add_hosts,
    console_log,
    guest_vm,
    wait_console,
)

log = logging.getLogger(__name__)
pytestmark = requires(*LAB_TOOLS, "mkfs.ext4")

GUEST_S = 90.0
VNC_CONSOLE = "766e63"
CONSOLE_S = 30.0


bed_fixture, lab_fixture = lab_fixtures(1, prefix="vfc", subnet="10.81.0.0/24")


async def _vnc(base_url: str, vm_id: str, token: str, ticket: str) -> ServerInit:
    url = base_url.replace("http://", "ws://")
    url += f"/ovirt-engine/services/console/vnc/{vm_id}?access_token={token}"
    async with connect(url, subprotocols=["binary"]) as ws:  # type: ignore[list-item]
        return await asyncio.wait_for(rfb_handshake(ws, ticket), CONSOLE_S)


async def _rfb_banner(address: str, port: int) -> bytes:
    """The first bytes a VNC server sends: where ``current=true`` says the display is, QEMU's is."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(address, port), CONSOLE_S)
    try:
        return await asyncio.wait_for(reader.readexactly(12), CONSOLE_S)
    finally:
        writer.close()
        await writer.wait_closed()


async def _ticket(lab: Lab, vm_id: str, expiry: int) -> str:
    reply = await lab.api.post(
        f"/vms/{vm_id}/graphicsconsoles/{VNC_CONSOLE}/ticket",
        {"ticket": {"expiry": expiry}},
        expect=200,
    )
    return str(reply["ticket"]["value"])


async def test_a_ticket_opens_the_guests_display_and_the_serial_console_shows_its_output(
    lab: Lab,
) -> None:
    started = time.monotonic()
    await add_hosts(lab)
    domain = await active_data_domain(lab)
    vm, _volume = await guest_vm(lab, domain)
    vm_id = vm["id"]
    await lab.api.act(f"/vms/{vm_id}", "start")
    await lab.api.wait_status(f"/vms/{vm_id}", "up", GUEST_S)
    await wait_console(console_log(domain, vm_id), [UP_MARKER], timeout=GUEST_S)
    log.info("guest up after %.1f s", time.monotonic() - started)

    [console] = (await lab.api.get(f"/vms/{vm_id}/graphicsconsoles?current=true"))[
        "graphics_console"
    ]
    assert await _rfb_banner(console["address"], console["port"]) == b"RFB 003.008\n"

    async with served(lab.ctx) as base_url:
        token = await sso_token(base_url, ADMIN_PASSWORD)

        ticket = await _ticket(lab, vm_id, 120)
        display = await _vnc(base_url, vm_id, token, ticket)
        assert display.width > 0 and display.height > 0

        with pytest.raises(RfbError):
            await _vnc(base_url, vm_id, token, ticket[::-1])

        expiring = await _ticket(lab, vm_id, 1)
        await asyncio.sleep(2.5)
        with pytest.raises(RfbError):
            await _vnc(base_url, vm_id, token, expiring)

        with pytest.raises(InvalidStatus) as refused:
            await _vnc(base_url, vm_id, "not-a-token", await _ticket(lab, vm_id, 120))
        assert refused.value.response.status_code == 403

        # The guest prints a TICK line every second and runs a shell on its console: what is
        # typed runs in the guest (the echoed command line says 6*7; only the guest says 42).
        output = await relayed_output(
            base_url, vm_id, token, send=b"echo VF-$((6*7))\n", timeout=5.0
        )
        assert b"TICK " in output, output
        assert b"VF-42" in output, output
    log.info("consoles checked after %.1f s", time.monotonic() - started)
