"""The resource table drives the routes: every row needs its service, every action its method."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.requests import Request

from virtfleet.common import apimodel as m
from virtfleet.engine.api.openapi import build_openapi
from virtfleet.engine.api.resources import TABLE, ActionRoute, Resource
from virtfleet.engine.api.routing import ApiRouter
from virtfleet.engine.assembly import Engine, build_engine
from virtfleet.engine.config import EngineConfig
from virtfleet.engine.services.base import ResourceService
from virtfleet.engine.services.vms import VmService


async def _anyone(_request: Request) -> None:
    return None


@pytest.fixture(name="engine")
def engine_fixture(tmp_path: Path) -> Iterator[Engine]:
    engine = build_engine(EngineConfig(data_dir=tmp_path))
    yield engine
    engine.eventlog.close()
    engine.database.dispose()


def _walk(resources: tuple[Resource, ...]) -> Iterator[Resource]:
    for resource in resources:
        yield resource
        yield from _walk(resource.children)


def test_the_engine_serves_every_row_and_every_action_of_the_table(engine: Engine) -> None:
    for resource in _walk(TABLE):
        service = engine.services[resource.service]
        for action in resource.actions:
            assert action.serves(service), f"{resource.segment}/{action.name}"
    assert ApiRouter(engine.services, _anyone).routes()


def test_a_row_without_its_service_fails_start_up_naming_it(engine: Engine) -> None:
    services = {name: s for name, s in engine.services.items() if name != "vm_nics"}
    with pytest.raises(RuntimeError, match="vm_nics"):
        ApiRouter(services, _anyone).routes()


def test_an_action_is_served_only_by_the_class_that_has_its_method(engine: Engine) -> None:
    start = ActionRoute("start", VmService.start)
    assert start.serves(engine.services["vms"])
    assert not start.serves(engine.services["hosts"])
    assert not start.serves(ResourceService())


def test_a_host_service_put_in_place_of_the_vms_fails_start_up(engine: Engine) -> None:
    services = {**engine.services, "vms": engine.services["hosts"]}
    with pytest.raises(RuntimeError, match="HostService has no 'start'"):
        ApiRouter(services, _anyone).routes()


def test_fields_the_model_marks_read_only_are_read_only_in_openapi(engine: Engine) -> None:
    schemas = build_openapi(engine.services)["components"]["schemas"]
    vm = schemas["Vm"]["properties"]
    assert vm["status"]["readOnly"] is True
    assert vm["creation_time"]["readOnly"] is True
    assert "readOnly" not in vm["memory"]
    host = schemas["Host"]["properties"]
    assert host["hardware_information"]["readOnly"] is True
    assert {"status", "start_time", "stop_time"} <= m.read_only_fields(m.Vm)
