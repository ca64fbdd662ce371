"""``follow=`` inlines linked collections and references with a fixed number of queries, and HEAD
is answered wherever GET is."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from labkit import API, api_client, seeded_engine
from sqlalchemy import event

from virtfleet.engine.assembly import Engine
from virtfleet.engine.config import EngineConfig


@pytest.fixture(name="engine")
async def engine_fixture(tmp_path: Path) -> AsyncIterator[Engine]:
    engine = seeded_engine(EngineConfig(data_dir=tmp_path))
    yield engine
    engine.eventlog.close()
    engine.database.dispose()


@pytest.fixture(name="http")
async def http_fixture(engine: Engine) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(engine) as client:
        yield client


@contextmanager
def counted_statements(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(engine.database.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine.database.engine, "before_cursor_execute", record)


async def _add_vms(http: httpx.AsyncClient, first: int, count: int) -> None:
    for index in range(first, first + count):
        body = {"name": f"vm{index}", "cluster": {"name": "Default"}, "memory": 1 << 30}
        reply = await http.post(f"{API}/vms", json=body)
        assert reply.status_code == 201, reply.text
        nic = await http.post(f"{API}/vms/{reply.json()['id']}/nics", json={"name": "nic1"})
        assert nic.status_code == 201, nic.text


async def _followed_list(http: httpx.AsyncClient, engine: Engine) -> tuple[list[Any], int]:
    with counted_statements(engine) as statements:
        reply = await http.get(f"{API}/vms", params={"follow": "nics,cluster.data_center"})
    assert reply.status_code == 200, reply.text
    return reply.json()["vm"], len(statements)


async def test_follow_inlines_collections_and_references(
    engine: Engine, http: httpx.AsyncClient
) -> None:
    await _add_vms(http, 0, 2)
    vms, _ = await _followed_list(http, engine)
    assert [vm["name"] for vm in vms] == ["vm0", "vm1"]
    for vm in vms:
        assert [nic["name"] for nic in vm["nics"]["nic"]] == ["nic1"]
        assert vm["cluster"]["name"] == "Default"
        assert vm["cluster"]["data_center"]["name"] == "Default"


async def test_follow_costs_the_same_queries_for_two_vms_as_for_eight(
    engine: Engine, http: httpx.AsyncClient
) -> None:
    await _add_vms(http, 0, 2)
    _, with_two = await _followed_list(http, engine)
    await _add_vms(http, 2, 6)
    vms, with_eight = await _followed_list(http, engine)
    assert len(vms) == 8
    assert with_eight == with_two


async def test_head_answers_like_get_without_a_body(http: httpx.AsyncClient) -> None:
    got = await http.get(f"{API}/clusters")
    head = await http.head(f"{API}/clusters")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == got.headers["content-type"]


async def test_follow_of_an_unknown_link_is_a_fault(http: httpx.AsyncClient) -> None:
    await _add_vms(http, 0, 1)
    reply = await http.get(f"{API}/vms", params={"follow": "nosuchthing"})
    assert reply.status_code == 400
    assert "nosuchthing" in reply.text
