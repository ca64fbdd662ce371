"""The engine killed with SIGKILL in the middle of a command resumes it on the next start."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from test_hosts_lab import Agent

from support.ports import free_port

PASSWORD = "restart-test-password"
SECRET = "restart-test-secret"


def _engine_command(config: Path) -> list[str]:
    return [
        sys.executable,
        "-c",
        "from virtfleet.cli.main import app; app()",
        "engine",
        "--config",
        str(config),
    ]


@contextmanager
def _black_hole(port: int) -> Iterator[None]:
    """Accepts TCP connections on ``port`` and never answers: an agent stuck mid-enrollment."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(8)
    try:
        yield
    finally:
        server.close()


class Engine:
    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.data_dir = data_dir
        self.config = data_dir / "engine.toml"
        self.config.write_text(
            f'data_dir = "{data_dir}"\nport = {self.port}\nlisten_host = "127.0.0.1"\n'
            "host_heartbeat_interval_s = 0.5\n"
        )
        self.process: subprocess.Popen[bytes] | None = None
        self.url = f"https://localhost:{self.port}/ovirt-engine/api"

    def start(self) -> None:
        env = {**os.environ, "VIRTFLEET_ADMIN_PASSWORD": PASSWORD}
        log = open(self.data_dir / "engine.log", "ab")  # noqa: SIM115 - the child owns it
        self.process = subprocess.Popen(
            _engine_command(self.config), env=env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, (self.data_dir / "engine.log").read_text()
            try:
                with self.client() as client:
                    if client.get(self.url).status_code == 200:
                        return
            except (httpx.HTTPError, OSError):
                pass
            time.sleep(0.2)
        raise AssertionError("the engine did not start")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            verify=ssl.create_default_context(cafile=str(self.data_dir / "pki" / "ca.crt")),
            auth=("admin@internal", PASSWORD),
            headers={"Accept": "application/json"},
            timeout=10,
        )

    def wait_for(self, path: str, field: str, wanted: str, timeout: float = 60) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        last: dict[str, str] = {}
        with self.client() as client:
            while time.monotonic() < deadline:
                last = client.get(path).json()
                if last.get(field) == wanted:
                    return last
                time.sleep(0.3)
        raise AssertionError(f"{path} never had {field}={wanted}; last: {last}")


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = Engine(tmp_path)
    try:
        yield engine
    finally:
        engine.stop()


def test_add_host_interrupted_by_sigkill_resumes_after_restart(
    engine: Engine, tmp_path: Path
) -> None:
    agent_port = free_port()
    with _black_hole(agent_port):
        engine.start()
        with engine.client() as client:
            reply = client.post(
                "/hosts",
                json={
                    "name": "h1",
                    "address": "127.0.0.1",
                    "port": agent_port,
                    "root_password": SECRET,
                    "cluster": {"name": "Default"},
                },
            )
            assert reply.status_code == 201, reply.text
            host_id = reply.json()["id"]
            time.sleep(1.0)  # the command is now waiting on the silent agent
            jobs = client.get("/jobs").json()["job"]
            started = [j for j in jobs if j["status"] == "started"]
            assert started, jobs
        engine.kill()

    agent = Agent(tmp_path / "agent", SECRET)
    agent.port = agent_port

    async def run_agent_while_engine_restarts() -> None:
        await agent.start()
        try:
            await asyncio.to_thread(engine.start)
            await asyncio.to_thread(engine.wait_for, f"/hosts/{host_id}", "status", "up")
            job = await asyncio.to_thread(
                engine.wait_for, f"/jobs/{started[0]['id']}", "status", "finished"
            )
            assert job["status"] == "finished"
            with engine.client() as client:
                # nothing is left locked: the host can be moved at once
                reply = client.post(f"/hosts/{host_id}/deactivate", json={})
                assert reply.status_code == 200, reply.text
            await asyncio.to_thread(engine.wait_for, f"/hosts/{host_id}", "status", "maintenance")
        finally:
            await asyncio.to_thread(engine.stop)
            await agent.stop()

    asyncio.run(run_agent_while_engine_restarts())
