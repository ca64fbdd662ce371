"""The `virtfleet` CLI against a live engine: the engine's real replies decode into the shared
API model, and the commands print what the engine holds."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ovirtsdk4.types as types
import pytest
from typer.testing import CliRunner

from virtfleet.cli.commands import CliState
from virtfleet.cli.main import app

from .conftest import ADMIN, LiveEngine, VmFactory, unique_name

pytestmark = pytest.mark.contract


@pytest.fixture
def cli(engine: LiveEngine, tmp_path: Path) -> Callable[..., Any]:
    env = {
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "VIRTFLEET_URL": engine.base_url,
        "VIRTFLEET_USER": ADMIN,
        "VIRTFLEET_PASSWORD": engine.password,
        "VIRTFLEET_CA_FILE": str(engine.ca_file),
    }

    def run(*args: str) -> Any:
        result = CliRunner().invoke(app, ["-o", "json", *args], obj=CliState(env=env))
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    return run


def test_host_list_shows_every_host_of_the_fleet_up(
    cli: Callable[..., Any], hosts_up: dict[str, types.Host]
) -> None:
    listed = {host["name"]: host["status"] for host in cli("host", "list")}
    assert listed == {name: "up" for name in hosts_up}


def test_a_vm_created_and_started_through_the_cli_is_up_on_a_fleet_host(
    cli: Callable[..., Any],
    hosts_up: dict[str, types.Host],
    vm_factory: VmFactory,
) -> None:
    name = unique_name("cli-vm")
    created = cli("vm", "create", name, "--cluster", "Default", "--memory", "256MiB")
    vm_factory.created.append(created["id"])
    assert created["memory"] == 256 * 2**20

    started = cli("vm", "start", name, "--poll-interval", "0.5", "--timeout", "90")
    assert started["status"] == "up"
    assert started["host"]["id"] in {host.id for host in hosts_up.values()}
    [shown] = cli("vm", "list", "--search", f"name={name}")
    assert shown["cpu"]["topology"]["sockets"] >= 1


def test_the_storage_domain_and_its_data_center_are_listed(
    cli: Callable[..., Any], local_storage: types.StorageDomain
) -> None:
    [domain] = [sd for sd in cli("storage", "list") if sd["name"] == local_storage.name]
    assert domain["storage"]["type"] == "posixfs"
    assert domain["data_centers"][0]["id"] == local_storage.data_centers[0].id
    assert "Default" in {dc["name"] for dc in cli("datacenter", "list")}
    assert "Default" in {cluster["name"] for cluster in cli("cluster", "list")}


def test_events_and_jobs_decode_from_the_live_engine(
    cli: Callable[..., Any], hosts_up: dict[str, types.Host]
) -> None:
    events = cli("event", "list", "--max", "50")
    assert all(isinstance(event["code"], int) for event in events)
    jobs = cli("job", "list", "--max", "20")
    assert jobs, "adding the fleet's hosts made jobs"
    shown = cli("job", "show", jobs[0]["id"])
    assert shown["status"] in {"started", "finished", "failed", "aborted"}
    assert [step["number"] for step in shown["steps"]] == sorted(
        step["number"] for step in shown["steps"]
    )
