"""The start action's run-once options on simulated hosts: they reach the domain for that run
only, the seed disk lives as long as the run, and options not supported are refused before any
job exists."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from test_vms_disks import _active_domain, _one_new_disk, _wait
from test_vms_lab import API, VmLab, vmlab_fixture  # noqa: F401

from virtfleet.common.apimodel.enums import JobStatus
from virtfleet.engine.persistence import tables

pytestmark = pytest.mark.usefixtures("vmlab")

CLOUD_INIT = {
    "host_name": "vm1.example.com",
    "user_name": "root",
    "root_password": "s3cret",
    "custom_script": "runcmd:\n  - echo hello\n",
    "nic_configurations": {
        "nic_configuration": [{"name": "eth0", "on_boot": True, "boot_protocol": "dhcp"}]
    },
}


def _boot(devices: list[str]) -> dict[str, Any]:
    return {"os": {"boot": {"devices": {"device": devices}}}}


async def _vm_with_disk(vmlab: VmLab) -> tuple[dict[str, Any], Any]:
    agent, _host_id = await vmlab.up_host("h1")
    domain = await _active_domain(vmlab)
    vm = await vmlab.add_vm("vm1", disk_attachments=_one_new_disk(domain))
    await _wait(vmlab, f"/vms/{vm['id']}", "down")
    return vm, agent


async def _start(vmlab: VmLab, vm_id: str, body: dict[str, Any]) -> None:
    reply = await vmlab.http.post(f"{API}/vms/{vm_id}/start", json=body)
    assert reply.status_code == 200, reply.text
    job = await vmlab.wait_job(reply.json()["job"]["id"])
    assert job.status == JobStatus.FINISHED, job


def _domain(agent: Any, vm_id: str) -> ET.Element:
    return ET.fromstring(agent.driver.domain_xml(vm_id))


def _boot_order(domain: ET.Element) -> list[str | None]:
    return [boot.get("dev") for boot in domain.findall("os/boot")]


def _seed_path(domain: ET.Element) -> Path | None:
    for disk in domain.findall("devices/disk"):
        if disk.get("device") == "cdrom":
            source = disk.find("source")
            assert source is not None
            return Path(source.get("file") or "")
    return None


async def _job_ids(vmlab: VmLab) -> set[str]:
    return {job["id"] for job in (await vmlab.http.get(f"{API}/jobs")).json().get("job", [])}


def _iso_file(image: Path, name: str) -> str:
    done = subprocess.run(
        ["isoinfo", "-i", str(image), "-R", "-x", f"/{name}"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_run_once_options_reach_the_domain_for_that_run_only(vmlab: VmLab) -> None:
    vm, agent = await _vm_with_disk(vmlab)
    body = {
        "vm": {**_boot(["network", "cdrom"]), "initialization": CLOUD_INIT},
        "volatile": True,
        "use_cloud_init": True,
    }
    await _start(vmlab, vm["id"], body)
    await vmlab.wait_vm(vm["id"], "up")

    domain = _domain(agent, vm["id"])
    assert _boot_order(domain) == ["network", "cdrom"]
    [disk] = [d for d in domain.findall("devices/disk") if d.get("device") == "disk"]
    assert disk.find("transient") is not None
    seed = _seed_path(domain)
    assert seed is not None and seed.is_file()
    user_data = _iso_file(seed, "user-data")
    assert '"hostname": "vm1.example.com"' in user_data and "echo hello" in user_data
    assert '"type": "dhcp"' in _iso_file(seed, "network-config")

    await vmlab.run_action(vm["id"], "stop")
    await vmlab.wait_vm(vm["id"], "down")
    assert not seed.exists(), "the seed outlived its run"
    assert (await vmlab.vm(vm["id"]))["os"]["boot"]["devices"]["device"] == ["hd"]

    await vmlab.start_vm(vm["id"])
    domain = _domain(agent, vm["id"])
    assert _boot_order(domain) == ["hd"]
    assert domain.find("devices/disk/transient") is None
    assert _seed_path(domain) is None


async def test_the_seeds_passwords_leave_the_database_when_the_start_ends(vmlab: VmLab) -> None:
    vm, _agent = await _vm_with_disk(vmlab)
    body = {"vm": {"initialization": CLOUD_INIT}, "use_cloud_init": True}
    await _start(vmlab, vm["id"], body)

    with vmlab.engine.database.read() as conn:
        stored = [str(row.params) for row in conn.execute(select(tables.commands.c.params))]
    assert stored and not any("s3cret" in params for params in stored)


async def test_a_vm_started_paused_stays_paused_until_started_again(vmlab: VmLab) -> None:
    await vmlab.up_host("h1")
    vm = await vmlab.add_vm("vm1")
    await _start(vmlab, vm["id"], {"pause": True})
    await vmlab.wait_vm(vm["id"], "paused")
    assert list(vmlab.domains(vm["id"]).values()) == ["paused"]
    with_options = await vmlab.http.post(f"{API}/vms/{vm['id']}/start", json={"volatile": True})
    assert with_options.status_code == 400 and "resumes as it was" in with_options.text

    await vmlab.run_action(vm["id"], "start")
    await vmlab.wait_vm(vm["id"], "up")
    assert list(vmlab.domains(vm["id"]).values()) == ["running"]


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"use_sysprep": True}, "use_sysprep"),
        ({"vm": {"memory": 1024**3}}, "vm.memory"),
        ({"vm": {"os": {"type": "rhel_8x64"}}}, "vm.os.type"),
        ({"vm": {"initialization": {"host_name": "a"}}}, "use_cloud_init=true"),
        ({"use_cloud_init": True}, "needs an initialization"),
        (
            {"use_cloud_init": True, "vm": {"initialization": {"windows_license_key": "K"}}},
            "windows_license_key",
        ),
        (
            {
                "use_cloud_init": True,
                "vm": {"initialization": {"custom_script": "runcmd:\n" + "  - x\n" * 20000}},
            },
            "at most 65536",
        ),
    ],
)
async def test_start_options_not_applied_are_refused_and_nothing_starts(
    vmlab: VmLab, body: dict[str, Any], named: str
) -> None:
    await vmlab.up_host("h1")
    vm = await vmlab.add_vm("vm1")
    jobs_before = await _job_ids(vmlab)
    reply = await vmlab.http.post(f"{API}/vms/{vm['id']}/start", json=body)
    assert reply.status_code == 400, reply.text
    assert named in reply.json()["detail"]
    assert (await vmlab.vm(vm["id"]))["status"] == "down"
    assert await _job_ids(vmlab) == jobs_before


async def test_a_vms_own_initialization_applies_on_its_first_run_only(vmlab: VmLab) -> None:
    agent, _ = await vmlab.up_host("h1")
    vm = await vmlab.add_vm("vm1", initialization=CLOUD_INIT)

    await vmlab.start_vm(vm["id"])
    seed = _seed_path(_domain(agent, vm["id"]))
    assert seed is not None and seed.is_file(), "the first run went without the initialization"
    assert '"hostname": "vm1.example.com"' in _iso_file(seed, "user-data")
    with vmlab.engine.database.read() as conn:
        stored = [str(row.params) for row in conn.execute(select(tables.commands.c.params))]
    assert not any("s3cret" in params for params in stored)

    await vmlab.run_action(vm["id"], "stop")
    await vmlab.wait_vm(vm["id"], "down")
    await vmlab.start_vm(vm["id"])
    assert _seed_path(_domain(agent, vm["id"])) is None, "a second run applied it again"


async def test_a_windows_vm_with_an_initialization_is_refused_its_first_start(
    vmlab: VmLab,
) -> None:
    await vmlab.up_host("h1")
    vm = await vmlab.add_vm(
        "win1", os={"type": "windows_10x64"}, initialization={"host_name": "win1"}
    )
    jobs_before = await _job_ids(vmlab)
    reply = await vmlab.http.post(f"{API}/vms/{vm['id']}/start", json={})
    assert reply.status_code == 400, reply.text
    assert "initialization" in reply.json()["detail"] and "sysprep" in reply.json()["detail"]
    assert (await vmlab.vm(vm["id"]))["status"] == "down"
    assert await _job_ids(vmlab) == jobs_before
