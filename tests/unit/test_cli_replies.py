"""The CLI reads the engine's replies as the shared API model (``common.apimodel``), the same
declarations the engine serves them from: oVirt's wrapped lists and unknown keys are read as the
engine reads them, a reply that does not fit the model is one clear error naming the field."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from virtfleet.cli.client import ApiClient
from virtfleet.cli.output import as_json
from virtfleet.common import apimodel as m
from virtfleet.common.apimodel.enums import StorageDomainStatus, VmStatus
from virtfleet.common.errors import VirtfleetError

VM_ID = "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"
DC_ID = "11111111-2222-4333-8444-555555555555"


def client_replying(body: dict[str, Any]) -> ApiClient:
    return ApiClient(
        "https://engine.test",
        token="t",
        transport=httpx.MockTransport(lambda _request: httpx.Response(200, json=body)),
    )


def test_a_reply_becomes_the_model_with_typed_fields() -> None:
    body = {
        "id": VM_ID,
        "href": f"/ovirt-engine/api/vms/{VM_ID}",
        "name": "web1",
        "status": "up",
        "memory": 1073741824,
        "cpu": {"topology": {"sockets": 2, "cores": 1, "threads": 1}},
        "link": [{"rel": "nics", "href": f"/ovirt-engine/api/vms/{VM_ID}/nics"}],
    }
    vm = client_replying(body).get_as(f"/vms/{VM_ID}", m.Vm)
    assert vm.status is VmStatus.UP
    assert vm.memory == 2**30
    assert vm.cpu is not None and vm.cpu.topology is not None
    assert vm.cpu.topology.sockets == 2


def test_ovirts_wrapped_lists_are_read_as_the_engine_reads_them() -> None:
    body = {"id": "sd", "status": "active", "data_centers": {"data_center": [{"id": DC_ID}]}}
    domain = client_replying(body).get_as("/storagedomains/sd", m.StorageDomain)
    assert domain.status is StorageDomainStatus.ACTIVE
    assert [dc.id for dc in domain.data_centers or []] == [DC_ID]


def test_keys_the_model_does_not_declare_are_ignored() -> None:
    vm = client_replying({"id": VM_ID, "name": "web1", "future_field": 1}).get_as("/vms/x", m.Vm)
    assert vm.name == "web1"


def test_a_reply_that_does_not_fit_the_model_names_the_field() -> None:
    with pytest.raises(VirtfleetError, match="not a valid Vm: field 'memory'") as raised:
        client_replying({"id": VM_ID, "memory": "lots"}).get_as("/vms/x", m.Vm)
    assert raised.value.reason == "Unexpected reply"


def test_a_collection_decodes_each_item() -> None:
    body = {"vm": [{"id": VM_ID, "name": "web1", "status": "down"}]}
    [vm] = client_replying(body).list_as("vms", "vm", m.Vm)
    assert (vm.name, vm.status) == ("web1", VmStatus.DOWN)


def test_json_output_is_the_models_fields_by_their_wire_names() -> None:
    action = m.Action.model_validate({"async": True, "status": "complete"})
    printed = as_json(action)
    assert printed == {"async": True, "status": "complete"}
    assert json.loads(json.dumps(printed)) == printed
