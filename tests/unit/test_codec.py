"""The XML and JSON codecs: what one writes the other reads back, and bad bodies are faults."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from virtfleet.common import apimodel as m
from virtfleet.common.apimodel.enums import BootDevice, VmStatus
from virtfleet.common.errors import InvalidInput
from virtfleet.engine.api.codec import json as json_codec
from virtfleet.engine.api.codec import xml as xml_codec
from virtfleet.engine.api.codec.view import View

_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff"),
    max_size=40,
)


@st.composite
def vms(draw: st.DrawFn) -> m.Vm:
    return m.Vm(
        name=draw(_text),
        description=draw(st.none() | _text),
        memory=draw(st.none() | st.integers(min_value=0, max_value=2**50)),
        status=draw(st.none() | st.sampled_from(list(VmStatus))),
        stateless=draw(st.none() | st.booleans()),
        cpu=m.Cpu(
            topology=m.CpuTopology(
                sockets=draw(st.integers(1, 16)), cores=draw(st.integers(1, 16)), threads=1
            )
        ),
        os=m.OperatingSystem(
            type=draw(_text),
            boot=m.Boot(devices=draw(st.lists(st.sampled_from(list(BootDevice)), max_size=3))),
        ),
        creation_time=draw(
            st.none()
            | st.datetimes(
                min_value=datetime(2000, 1, 1),
                max_value=datetime(2100, 1, 1),
                timezones=st.just(UTC),
            ).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))
        ),
    )


@settings(max_examples=150, deadline=None)
@given(vms())
def test_xml_round_trip_keeps_every_field(vm: m.Vm) -> None:
    assert xml_codec.decode_object(xml_codec.encode_object(vm), m.Vm) == vm


@settings(max_examples=150, deadline=None)
@given(vms())
def test_json_round_trip_keeps_every_field(vm: m.Vm) -> None:
    assert json_codec.decode_object(json_codec.encode_object(vm), m.Vm) == vm


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_decode_to_an_object_or_invalid_input(body: bytes) -> None:
    for decode in (xml_codec.decode_object, json_codec.decode_object):
        with contextlib.suppress(InvalidInput):
            decode(body, m.Vm)


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | _text,
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(_text, children, max_size=4)
        ),
        max_leaves=20,
    )
)
def test_any_json_value_decodes_to_an_object_or_invalid_input(value: object) -> None:
    import json

    with contextlib.suppress(InvalidInput):
        json_codec.decode_object(json.dumps(value).encode(), m.Vm)


def test_nested_objects_are_written_as_references() -> None:
    vm = m.Vm(id="v1", name="a", cluster=m.Cluster(id="c1", name="Default"))
    view = View(href_of=lambda o: f"/ovirt-engine/api/clusters/{o.id}")
    body = xml_codec.encode_object(vm, view).decode()
    assert '<cluster href="/ovirt-engine/api/clusters/c1" id="c1"/>' in body
    assert "Default" not in body


def test_write_only_secrets_are_never_written() -> None:
    host = m.Host(name="h1", root_password="s3cret")
    assert b"s3cret" not in xml_codec.encode_object(host)
    assert b"s3cret" not in json_codec.encode_object(host)


def test_unknown_elements_are_ignored_and_wrong_values_refused() -> None:
    vm = xml_codec.decode_object(b"<vm><name>a</name><future_field>x</future_field></vm>", m.Vm)
    assert vm.name == "a"
    with pytest.raises(InvalidInput, match="memory"):
        xml_codec.decode_object(b"<vm><memory>lots</memory></vm>", m.Vm)


def test_entities_and_huge_documents_are_refused() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><vm><name>&b;</name></vm>'
    )
    try:
        vm = xml_codec.decode_object(bomb, m.Vm)
    except InvalidInput:
        return
    assert "aaaa" not in (vm.name or "")


def test_wrong_root_element_is_a_clear_fault() -> None:
    with pytest.raises(InvalidInput, match="Expected a <vm> element"):
        xml_codec.decode_object(b"<host><name>a</name></host>", m.Vm)


def test_deeply_nested_xml_is_refused() -> None:
    body = b"<vm>" + b"<cpu><topology>" * 1 + b"</topology></cpu>" + b"</vm>"
    assert xml_codec.decode_object(body, m.Vm).cpu is not None
    deep = b"<vm>" + b"<x>" * 5000 + b"</x>" * 5000 + b"</vm>"
    with contextlib.suppress(InvalidInput):
        xml_codec.decode_object(deep, m.Vm)


def test_characters_xml_cannot_carry_are_replaced_not_fatal() -> None:
    fault = m.Fault(reason="Not Found", detail="No object with id '\x06\x00'")
    body = xml_codec.encode_object(fault)
    assert xml_codec.decode_object(body, m.Fault).detail == "No object with id '\ufffd\ufffd'"


def test_structs_with_an_id_write_it_as_an_attribute() -> None:
    network = m.Network(name="n", vlan=m.Vlan(id=42))
    assert b'<vlan id="42"/>' in xml_codec.encode_object(network)
    assert xml_codec.decode_object(xml_codec.encode_object(network), m.Network).vlan == m.Vlan(
        id=42
    )
    assert json_codec.decode_object(json_codec.encode_object(network), m.Network).vlan == m.Vlan(
        id=42
    )
