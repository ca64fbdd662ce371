"""JSON-RPC framing: round trips, refusal of malformed frames, domain errors across the wire."""

from __future__ import annotations

import json

import pytest

from virtfleet.common import rpc
from virtfleet.common.errors import (
    AgentError,
    Conflict,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    VirtfleetError,
)
from virtfleet.common.protocol import VmRef, VmRunState, VmState


def test_request_round_trips() -> None:
    msg = rpc.decode_message(rpc.encode_request(7, "VM.destroy", VmRef(vm_id="abc")))
    assert msg == rpc.Request(7, "VM.destroy", {"vm_id": "abc"})


def test_notification_has_no_id_and_round_trips() -> None:
    text = rpc.encode_notification("VM.stateChanged", VmState(vm_id="v", state=VmRunState.DOWN))
    assert "id" not in json.loads(text)
    msg = rpc.decode_message(text)
    assert msg == rpc.NotificationMessage(
        "VM.stateChanged", {"vm_id": "v", "state": "down", "reason": ""}
    )


def test_result_round_trips() -> None:
    text = rpc.encode_result("x1", VmState(vm_id="v", state=VmRunState.RUNNING))
    msg = rpc.decode_message(text)
    assert isinstance(msg, rpc.Response)
    assert VmState.model_validate(msg.result) == VmState(vm_id="v", state=VmRunState.RUNNING)


def test_error_round_trips_with_data() -> None:
    msg = rpc.decode_message(rpc.encode_error(3, -32001, "no such VM", {"reason": "Not Found"}))
    assert msg == rpc.ErrorResponse(3, -32001, "no such VM", {"reason": "Not Found"})


def test_bytes_frames_are_accepted() -> None:
    msg = rpc.decode_message(rpc.encode_request(1, "Host.ping", VmRef(vm_id="a")).encode())
    assert isinstance(msg, rpc.Request)


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{not json", rpc.ErrorCode.PARSE_ERROR),
        ("[]", rpc.ErrorCode.INVALID_REQUEST),
        ('{"id": 1, "method": "Host.ping"}', rpc.ErrorCode.INVALID_REQUEST),
        ('{"jsonrpc": "2.0", "id": 1, "method": 5}', rpc.ErrorCode.INVALID_REQUEST),
        ('{"jsonrpc": "2.0", "id": true, "method": "Host.ping"}', rpc.ErrorCode.INVALID_REQUEST),
        (
            '{"jsonrpc": "2.0", "id": 1, "method": "Host.ping", "params": [1]}',
            rpc.ErrorCode.INVALID_PARAMS,
        ),
        ('{"jsonrpc": "2.0", "id": 1}', rpc.ErrorCode.INVALID_REQUEST),
        ('{"jsonrpc": "2.0", "result": {}}', rpc.ErrorCode.INVALID_REQUEST),
        ('{"jsonrpc": "2.0", "id": 1, "result": 5}', rpc.ErrorCode.INVALID_REQUEST),
        ('{"jsonrpc": "2.0", "id": 1, "error": {"code": "x"}}', rpc.ErrorCode.INVALID_REQUEST),
    ],
)
def test_malformed_frames_are_refused_with_the_fitting_code(frame: str, code: int) -> None:
    with pytest.raises(rpc.ProtocolError) as caught:
        rpc.decode_message(frame)
    assert caught.value.code == code


def test_protocol_error_keeps_the_id_when_it_was_readable() -> None:
    with pytest.raises(rpc.ProtocolError) as caught:
        rpc.decode_message('{"jsonrpc": "2.0", "id": 9, "method": "m", "params": 1}')
    assert caught.value.id == 9


def test_oversized_frames_are_refused() -> None:
    with pytest.raises(rpc.ProtocolError):
        rpc.decode_message(" " * (rpc.MAX_MESSAGE_BYTES + 1))


@pytest.mark.parametrize("error_type", [NotFound, Conflict, InvalidInput, NotAuthenticated])
def test_domain_errors_cross_the_wire_as_themselves(error_type: type[VirtfleetError]) -> None:
    sent = error_for_wire(error_type("vm 42 is gone"))
    assert type(sent) is error_type
    assert sent.detail == "vm 42 is gone"
    assert sent.reason == error_type.reason


def test_a_custom_reason_survives_the_wire() -> None:
    sent = error_for_wire(Conflict("locked", reason="VM is locked"))
    assert sent.reason == "VM is locked"


def test_an_agent_error_arrives_as_an_agent_error() -> None:
    sent = error_for_wire(AgentError("qemu-img failed"))
    assert type(sent) is AgentError
    assert sent.detail == "qemu-img failed"


def test_unexpected_exceptions_hide_their_message() -> None:
    error = rpc.error_for_exception(KeyError("secret internals"))
    assert error.code == rpc.ErrorCode.INTERNAL_ERROR
    assert "secret internals" not in error.message
    assert type(rpc.exception_for_error(error)) is AgentError


def test_invalid_params_code_means_invalid_input() -> None:
    error = rpc.ErrorResponse(1, rpc.ErrorCode.INVALID_PARAMS, "params must be an object")
    assert type(rpc.exception_for_error(error)) is InvalidInput


def error_for_wire(exc: Exception) -> VirtfleetError:
    """What the engine raises when the agent raised ``exc``: encode, decode, map back."""
    error = rpc.error_for_exception(exc)
    decoded = rpc.decode_message(rpc.encode_error(1, error.code, error.message, error.data))
    assert isinstance(decoded, rpc.ErrorResponse)
    return rpc.exception_for_error(decoded)
