"""Each domain error declares its HTTP status, agent-protocol code and WebSocket close code once
(``common.errors``), and every reader gives back the same error: the engine's fault mapper read
by the CLI client, the agent protocol's codec, the agent's and the engine's console relays read
by the CLI's serial console."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route
from starlette.testclient import TestClient

from virtfleet.agent.serialrelay import close_code
from virtfleet.cli.client import _error_from_response
from virtfleet.cli.serialconsole import _raise_for_close
from virtfleet.common import rpc
from virtfleet.common.errors import WIRE_ERRORS, AgentError, Conflict, VirtfleetError, WireCode
from virtfleet.engine.api.consoles import host_refusal_code
from virtfleet.engine.api.faults import EXCEPTION_HANDLERS
from virtfleet.engine.commands.store import Locked

error_classes = st.sampled_from(WIRE_ERRORS)
# what a fault's detail or reason may say (JSON carries any text but lone surrogates)
texts = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=80).filter(
    str.strip
)
reasons = st.none() | texts


@pytest.mark.parametrize("wire", ["http_status", "rpc_code", "close_code"])
def test_each_code_names_one_error_on_its_wire(wire: WireCode) -> None:
    codes = [getattr(cls, wire) for cls in WIRE_ERRORS]
    assert len(set(codes)) == len(codes), dict(zip(WIRE_ERRORS, codes, strict=True))


def test_a_subclass_travels_as_the_error_it_refines() -> None:
    assert type(_over_rpc(Locked("VM is locked"))) is Conflict


def _raising_app(error: VirtfleetError) -> Starlette:
    async def fail(_request: Request) -> None:
        raise error

    return Starlette(routes=[Route("/", fail)], exception_handlers=EXCEPTION_HANDLERS)  # type: ignore[arg-type]


@given(error_classes, texts, reasons)
def test_the_cli_reads_back_the_fault_the_engine_answers(
    cls: type[VirtfleetError], detail: str, reason: str | None
) -> None:
    with TestClient(_raising_app(cls(detail, reason=reason))) as client:
        reply = client.get("/", headers={"Accept": "application/json"})
    assert reply.status_code == cls.http_status
    read = _error_from_response(reply)
    assert type(read) is cls
    assert (read.detail, read.reason) == (detail, reason or cls.reason)


def _over_rpc(error: VirtfleetError) -> VirtfleetError:
    sent = rpc.error_for_exception(error)
    frame = rpc.encode_error(1, sent.code, sent.message, sent.data)
    decoded = rpc.decode_message(frame)
    assert isinstance(decoded, rpc.ErrorResponse)
    return rpc.exception_for_error(decoded)


@given(error_classes, texts, reasons)
def test_the_engine_raises_the_error_the_agent_raised(
    cls: type[VirtfleetError], detail: str, reason: str | None
) -> None:
    received = _over_rpc(cls(detail, reason=reason))
    assert type(received) is cls
    assert (received.detail, received.reason) == (detail, reason or cls.reason)


def test_an_unknown_agent_protocol_code_is_the_host_failing() -> None:
    received = rpc.exception_for_error(rpc.ErrorResponse(1, -32099, "odd"))
    assert type(received) is AgentError


@dataclass
class _ClosedConsole:
    """What the CLI's serial console sees of a WebSocket the far end closed."""

    close_code: int
    close_reason: str


@given(error_classes, texts)
def test_the_cli_console_reads_back_the_agents_refusal_through_the_engine(
    cls: type[VirtfleetError], detail: str
) -> None:
    from_host = close_code(cls(detail))
    to_client = host_refusal_code(from_host)
    with pytest.raises(VirtfleetError) as raised:
        _raise_for_close(_ClosedConsole(to_client, detail))  # type: ignore[arg-type]
    assert type(raised.value) is cls
    assert raised.value.detail == detail


def test_an_unknown_close_code_from_the_host_is_the_host_failing() -> None:
    assert host_refusal_code(4999) == AgentError.close_code


def test_an_unexpected_exception_closes_a_console_as_an_undeclared_failure() -> None:
    assert close_code(KeyError("internals")) == VirtfleetError.close_code
