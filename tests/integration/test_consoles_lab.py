"""Consoles through the engine on simulated hosts (libvirt's test driver): display tickets reach
the host, and the WebSocket proxies authenticate and relay. The test driver has no VNC server
and no serial console, so the relay of bytes is checked with a console standing in for one."""

from __future__ import annotations

import asyncio
import threading
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_hosts_lab import opened
from test_vms_lab import API, VmLab
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from support.consoles import relayed_output, served, sso_token
from virtfleet.agent.hypervisor.base import ConsoleOutput, SerialConsole
from virtfleet.agent.hypervisor.libvirt.driver import LibvirtDriver
from virtfleet.common.errors import Conflict
from virtfleet.common.protocol import DisplayEndpoint

VNC_CONSOLE = "766e63"
WAIT_S = 15.0


@pytest.fixture(name="lab")
async def lab_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[VmLab]:
    async with opened(VmLab(tmp_path), monkeypatch) as lab:
        yield lab


async def _running_vm(lab: VmLab) -> tuple[str, LibvirtDriver]:
    agent, _host_id = await lab.up_host("host1")
    vm = await lab.add_vm("vm1")
    await lab.start_vm(vm["id"])
    assert isinstance(agent.driver, LibvirtDriver)
    return vm["id"], agent.driver


async def test_a_console_ticket_sets_the_password_of_the_vms_display_on_its_host(
    lab: VmLab,
) -> None:
    vm_id, driver = await _running_vm(lab)
    before = datetime.now(UTC)

    reply = await lab.http.post(
        f"{API}/vms/{vm_id}/graphicsconsoles/{VNC_CONSOLE}/ticket",
        json={"ticket": {"expiry": 300}},
    )

    assert reply.status_code == 200, reply.text
    ticket = reply.json()["ticket"]
    assert ticket["expiry"] == 300 and len(ticket["value"]) == 8
    on_host = driver.display_ticket(vm_id)
    assert on_host is not None and on_host.password == ticket["value"]
    valid_for = on_host.valid_to - before
    assert timedelta(seconds=295) < valid_for < timedelta(seconds=305)


async def test_the_vm_ticket_action_takes_the_clients_value_in_xml_like_the_sdk(
    lab: VmLab,
) -> None:
    vm_id, driver = await _running_vm(lab)
    body = "<action><ticket><value>s3cret</value><expiry>120</expiry></ticket></action>"

    reply = await lab.http.post(
        f"{API}/vms/{vm_id}/ticket",
        content=body,
        headers={"Content-Type": "application/xml", "Accept": "application/xml"},
    )

    assert reply.status_code == 200, reply.text
    assert "<value>s3cret</value>" in reply.text and "<expiry>120</expiry>" in reply.text
    on_host = driver.display_ticket(vm_id)
    assert on_host is not None and on_host.password == "s3cret"


async def test_a_vm_lists_its_ticket_action_and_its_console_lists_one_too(
    lab: VmLab,
) -> None:
    vm_id, _ = await _running_vm(lab)
    vm = await lab.vm(vm_id)
    console = (await lab.http.get(f"{API}/vms/{vm_id}/graphicsconsoles/{VNC_CONSOLE}")).json()
    assert "ticket" in {link["rel"] for link in vm["actions"]["link"]}
    assert "ticket" in {link["rel"] for link in console["actions"]["link"]}


async def test_a_ticket_for_a_vm_that_is_down_is_refused(lab: VmLab) -> None:
    await lab.up_host("host1")
    vm = await lab.add_vm("vm1")

    reply = await lab.http.post(f"{API}/vms/{vm['id']}/ticket", json={"ticket": {}})

    assert reply.status_code == 409, reply.text
    assert "not running" in reply.json()["detail"]


async def test_a_ticket_expiry_out_of_range_or_a_vnc_ticket_too_long_is_refused(
    lab: VmLab,
) -> None:
    vm_id, _ = await _running_vm(lab)
    url = f"{API}/vms/{vm_id}/ticket"

    no_time = await lab.http.post(url, json={"ticket": {"expiry": 0}})
    too_long = await lab.http.post(url, json={"ticket": {"value": "123456789"}})

    assert no_time.status_code == 400, no_time.text
    assert too_long.status_code == 400 and "at most 8" in too_long.json()["detail"]


async def test_current_consoles_say_where_the_display_listens_on_the_host(
    lab: VmLab,
) -> None:
    vm_id, driver = await _running_vm(lab)
    url = f"{API}/vms/{vm_id}/graphicsconsoles"
    # the test driver's displays have no port: no address is listed
    [simulated] = (await lab.http.get(f"{url}?current=true")).json()["graphics_console"]
    assert "port" not in simulated

    def listening(vm: str, protocol: str) -> DisplayEndpoint:
        return DisplayEndpoint(vm_id=vm, protocol=protocol, address="0.0.0.0", port=5901)

    driver.display_endpoint = listening  # type: ignore[method-assign]
    [current] = (await lab.http.get(f"{url}?current=true")).json()["graphics_console"]
    [configured] = (await lab.http.get(url)).json()["graphics_console"]

    host = (await lab.http.get(f"{API}/hosts")).json()["host"][0]
    assert (current["address"], current["port"]) == (host["address"], 5901)
    assert "port" not in configured


async def test_a_current_console_of_an_unreachable_host_is_listed_without_an_address(
    lab: VmLab,
) -> None:
    agent, _host_id = await lab.up_host("host1")
    vm = await lab.add_vm("vm1")
    await lab.start_vm(vm["id"])
    await agent.stop()

    reply = await lab.http.get(f"{API}/vms/{vm['id']}/graphicsconsoles?current=true")

    assert reply.status_code == 200, reply.text
    [console] = reply.json()["graphics_console"]
    assert console["protocol"] == "vnc" and "address" not in console


async def test_a_vm_that_is_down_gets_a_console_of_the_other_protocol_beside_its_own(
    lab: VmLab,
) -> None:
    vm_id, _ = await _running_vm(lab)
    url = f"{API}/vms/{vm_id}/graphicsconsoles"

    same = await lab.http.post(url, json={"protocol": "vnc"})
    running = await lab.http.post(url, json={"protocol": "spice"})
    await lab.run_action(vm_id, "stop")
    await lab.wait_vm(vm_id, "down")
    nameless = await lab.http.post(url, json={})
    added = await lab.http.post(url, json={"protocol": "spice"})

    assert same.status_code == 409 and "already has a vnc console" in same.json()["detail"]
    assert running.status_code == 409 and "while it is up" in running.json()["detail"]
    assert nameless.status_code == 400, nameless.text
    assert added.status_code == 201, added.text
    assert added.json()["id"] == b"spice".hex()
    consoles = (await lab.http.get(url)).json()["graphics_console"]
    assert [c["protocol"] for c in consoles] == ["vnc", "spice"]
    assert (await lab.vm(vm_id))["display"]["type"] == "spice"


async def test_both_consoles_reach_the_domain_and_a_removed_one_leaves_it(
    lab: VmLab,
) -> None:
    vm_id, driver = await _running_vm(lab)
    url = f"{API}/vms/{vm_id}/graphicsconsoles"
    await lab.run_action(vm_id, "stop")
    await lab.wait_vm(vm_id, "down")
    assert (await lab.http.post(url, json={"protocol": "spice"})).status_code == 201
    await lab.start_vm(vm_id)
    both = ET.fromstring(driver.domain_xml(vm_id))

    await lab.run_action(vm_id, "stop")
    await lab.wait_vm(vm_id, "down")
    removed = await lab.http.delete(f"{url}/{b'vnc'.hex()}")
    missing = await lab.http.delete(f"{url}/{b'vnc'.hex()}")
    await lab.start_vm(vm_id)
    spice_only = ET.fromstring(driver.domain_xml(vm_id))

    assert [g.get("type") for g in both.iter("graphics")] == ["vnc", "spice"]
    assert removed.status_code == 200, removed.text
    assert missing.status_code == 404, missing.text
    assert [g.get("type") for g in spice_only.iter("graphics")] == ["spice"]
    assert (await lab.vm(vm_id))["display"]["type"] == "spice"


# --- WebSocket proxies --------------------------------------------------------------------------


class EchoConsole(SerialConsole):
    """Stands in for a guest's serial port: greets, then answers every input in capitals."""

    def __init__(self, on_output: ConsoleOutput) -> None:
        self.on_output = on_output
        self.closed = threading.Event()
        on_output(b"login: ")

    def write(self, data: bytes) -> None:
        if self.closed.is_set():
            raise Conflict("closed")
        self.on_output(data.upper())

    def close(self) -> None:
        self.closed.set()


@pytest.fixture(name="echo")
def echo_fixture() -> Iterator[list[EchoConsole]]:
    yield []


def _with_echo_console(driver: LibvirtDriver, opened_consoles: list[EchoConsole]) -> None:
    def open_serial_console(vm_id: str, on_output: ConsoleOutput) -> SerialConsole:
        console = EchoConsole(on_output)
        opened_consoles.append(console)
        return console

    driver.open_serial_console = open_serial_console  # type: ignore[method-assign]


async def _read_until(ws: ClientConnection, text: bytes) -> bytes:
    seen = b""
    while text not in seen:
        message = await asyncio.wait_for(ws.recv(), WAIT_S)
        seen += message if isinstance(message, bytes) else message.encode()
    return seen


def _ws_url(base_url: str, path: str) -> str:
    return base_url.replace("http://", "ws://") + path


async def test_the_serial_console_relays_both_ways_and_closes_the_hosts_side(
    lab: VmLab, echo: list[EchoConsole]
) -> None:
    vm_id, driver = await _running_vm(lab)
    _with_echo_console(driver, echo)
    async with served(lab.engine) as base_url:
        token = await sso_token(base_url, "password")
        url = _ws_url(base_url, f"/ovirt-engine/services/console/serial/{vm_id}")
        async with connect(url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
            assert b"login: " in await _read_until(ws, b"login: ")
            await ws.send(b"root\n")
            assert b"ROOT\n" in await _read_until(ws, b"ROOT\n")
        for _ in range(int(WAIT_S / 0.05)):
            if echo[0].closed.is_set():
                break
            await asyncio.sleep(0.05)
    assert echo[0].closed.is_set(), "the host's console stayed open after the client left"


async def test_the_cli_relay_pipes_stdin_to_the_console_and_its_output_to_stdout(
    lab: VmLab, echo: list[EchoConsole]
) -> None:
    vm_id, driver = await _running_vm(lab)
    _with_echo_console(driver, echo)
    async with served(lab.engine) as base_url:
        token = await sso_token(base_url, "password")
        output = await relayed_output(base_url, vm_id, token, send=b"uname\n", timeout=2.0)
    assert output.startswith(b"login: ")
    assert b"UNAME\n" in output


async def test_a_console_the_host_cannot_open_closes_with_the_hosts_reason(
    lab: VmLab,
) -> None:
    vm_id, _ = await _running_vm(lab)
    async with served(lab.engine) as base_url:
        token = await sso_token(base_url, "password")
        url = _ws_url(base_url, f"/ovirt-engine/services/console/serial/{vm_id}")
        async with connect(url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), WAIT_S)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4502  # the host failed (AgentError)
    assert "not supported" in closed.value.rcvd.reason


async def test_a_vm_whose_serial_console_is_disabled_refuses_it_until_enabled(
    lab: VmLab, echo: list[EchoConsole]
) -> None:
    vm_id, driver = await _running_vm(lab)
    _with_echo_console(driver, echo)
    assert (await lab.vm(vm_id))["console"] == {"enabled": True}
    url = f"{API}/vms/{vm_id}"
    disabled = await lab.http.put(url, json={"console": {"enabled": False}})
    assert disabled.status_code == 200, disabled.text
    async with served(lab.engine) as base_url:
        token = await sso_token(base_url, "password")
        ws_url = _ws_url(base_url, f"/ovirt-engine/services/console/serial/{vm_id}")
        headers = {"Authorization": f"Bearer {token}"}
        async with connect(ws_url, additional_headers=headers) as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), WAIT_S)
        assert echo == []

        await lab.http.put(url, json={"console": {"enabled": True}})
        async with connect(ws_url, additional_headers=headers) as ws:
            assert b"login: " in await _read_until(ws, b"login: ")
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4409
    assert "disabled" in closed.value.rcvd.reason


async def test_the_vnc_proxy_says_why_when_the_display_has_no_port(lab: VmLab) -> None:
    vm_id, _ = await _running_vm(lab)
    async with served(lab.engine) as base_url:
        token = await sso_token(base_url, "password")
        url = _ws_url(base_url, f"/ovirt-engine/services/console/vnc/{vm_id}")
        url += f"?access_token={token}"
        async with connect(url, subprotocols=["binary"]) as ws:  # type: ignore[list-item]
            assert ws.subprotocol == "binary"
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), WAIT_S)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4409


@pytest.mark.parametrize("kind", ["vnc", "serial"])
@pytest.mark.parametrize("token", [None, "not-a-token"])
async def test_a_console_without_a_valid_token_is_refused(
    lab: VmLab, kind: str, token: str | None
) -> None:
    vm_id, _ = await _running_vm(lab)
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    async with served(lab.engine) as base_url:
        url = _ws_url(base_url, f"/ovirt-engine/services/console/{kind}/{vm_id}")
        with pytest.raises(InvalidStatus) as refused:
            async with connect(url, additional_headers=headers):
                pass
    assert refused.value.response.status_code == 403
