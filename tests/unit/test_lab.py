"""The testbed lab's pieces that need neither root nor a testbed: agent configs, waiting for
agents, stopping them, watching a console and the engine's API client."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from virtfleet.agent.config import AgentConfig
from virtfleet.testbed import Testbed, TestbedError
from virtfleet.testbed.lab import (
    ENROLL_SECRET,
    EngineClient,
    agent_dir,
    lab_engine,
    missing_requirements,
    stop_agents,
    wait_agents_listening,
    wait_console,
    write_agent_config,
)
from virtfleet.testbed.plan import plan_testbed
from virtfleet.testbed.state import TestbedState


def _planned_bed(base: Path) -> Testbed:
    """A testbed as planned, never brought up: loopback addresses where nothing listens."""
    return Testbed(TestbedState(plan=plan_testbed(base, 1, prefix="vfu", subnet="127.42.0.0/24")))


def test_an_agent_config_listens_on_the_hosts_address_and_drives_its_libvirtd(
    tmp_path: Path,
) -> None:
    bed = _planned_bed(tmp_path / "bed")
    host = bed.hosts[0]
    loaded = AgentConfig.load(write_agent_config(bed, host))
    assert loaded.listen_host == host.address
    assert loaded.driver_uri == host.libvirt_uri
    assert loaded.enrollment_secret == ENROLL_SECRET
    assert loaded.data_dir.is_relative_to(agent_dir(bed, host))


def test_an_agent_that_exited_before_listening_is_reported_with_its_log(tmp_path: Path) -> None:
    bed = _planned_bed(tmp_path / "bed")
    host = bed.hosts[0]
    write_agent_config(bed, host)
    (agent_dir(bed, host) / "agent.log").write_text("boom: cannot open libvirt\n")
    exited = subprocess.Popen([sys.executable, "-c", "pass"])
    exited.wait(30)
    with pytest.raises(TestbedError, match="boom: cannot open libvirt"):
        wait_agents_listening(bed, {host.name: exited}, timeout=30)


def test_stopping_agents_ends_a_running_one(tmp_path: Path) -> None:
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    stop_agents({"h1": running}, grace=10)
    assert running.poll() is not None


async def test_the_console_wait_reads_only_past_the_offset(tmp_path: Path) -> None:
    console = tmp_path / "console.log"
    console.write_text("MARK old boot\nMARK new boot\n")
    offset = len("MARK old boot\n")
    seen = await wait_console(console, ["MARK"], timeout=5, start=offset, poll_s=0.01)
    assert seen == "MARK new boot\n"
    with pytest.raises(TestbedError, match="old"):
        await wait_console(console, ["old"], timeout=0.1, start=offset, poll_s=0.01)


async def test_the_engine_client_reads_the_seeded_cluster_and_raises_on_a_fault(
    tmp_path: Path,
) -> None:
    api = EngineClient.for_context(lab_engine(tmp_path / "engine"))
    await api.ctx.start()
    try:
        clusters = (await api.get("/clusters"))["cluster"]
        assert [c["name"] for c in clusters] == ["Default"]
        with pytest.raises(TestbedError, match="/vms/no-such-vm"):
            await api.get("/vms/no-such-vm")
    finally:
        await api.aclose()
        await api.ctx.stop()


def test_a_missing_tool_is_named_as_the_reason_a_lab_cannot_run() -> None:
    reason = missing_requirements(("vf-no-such-tool",))
    assert reason is not None
    assert "vf-no-such-tool" in reason or os.geteuid() != 0
