"""``virtfleet agent --config``: a separate agent process that serves until SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path

from support.ports import free_port, is_listening
from virtfleet.agent.hypervisor.testdriver.node import write_node_file
from virtfleet.common.pki import CertificateAuthority
from virtfleet.common.protocol import HOST_GET_CAPABILITIES, PROTOCOL_VERSION, Empty
from virtfleet.engine.agentclient import AgentClient, engine_client_context, enroll_agent

SECRET = "agent-process-secret"


def test_an_agent_process_enrolls_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "agent.toml"
    config.write_text(
        f'listen_host = "127.0.0.1"\nport = {port}\ndata_dir = "data"\n'
        f'driver_uri = "test:///{tmp_path / "node.xml"}"\nenrollment_secret = "{SECRET}"\n'
    )
    write_node_file(tmp_path / "node.xml")
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from virtfleet.cli.main import app; app()",
            "agent",
            "--config",
            str(config),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not is_listening(port):
            assert process.poll() is None, "the agent exited early"
            assert time.monotonic() < deadline, "the agent never listened"
            time.sleep(0.1)

        async def talk() -> int:
            ca = CertificateAuthority.load_or_create(tmp_path / "pki")
            await enroll_agent("127.0.0.1", port, SECRET, ca)
            client = AgentClient("127.0.0.1", port, engine_client_context(tmp_path / "pki"))
            async with client:
                caps = await client.call(HOST_GET_CAPABILITIES, Empty())
            return caps.protocol_version

        assert asyncio.run(talk()) == PROTOCOL_VERSION
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    assert not is_listening(port)
