"""``virtfleet up``: defaults on first start, a clean stop on Ctrl-C, state kept across starts."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx

from support.ports import free_port_run, is_listening

PASSWORD = "allinone-test-password"


class Up:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port_run(1)
        self.agent_port = free_port_run(2)
        self.url = f"https://localhost:{self.port}/ovirt-engine/api"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [
            sys.executable,
            "-c",
            "from virtfleet.cli.main import app; app()",
            "up",
            "--data-dir",
            str(self.data_dir),
            "--port",
            str(self.port),
            "--agent-port",
            str(self.agent_port),
            "--simulate",
            "1",
            "--local-driver",
            "test",
        ]
        env = {**os.environ, "VIRTFLEET_ADMIN_PASSWORD": PASSWORD}
        with open(self.data_dir.parent / "up.log", "ab") as log:
            self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.wait(lambda c: c.get(self.url).status_code == 200)

    def client(self) -> httpx.Client:
        ca = self.data_dir / "engine" / "pki" / "ca.crt"
        return httpx.Client(
            verify=ssl.create_default_context(cafile=str(ca)),
            auth=("admin@internal", PASSWORD),
            headers={"Accept": "application/json"},
            timeout=10,
        )

    def wait(self, check: object, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None and self.process.poll() is None
            try:
                with self.client() as client:
                    if check(client):  # type: ignore[operator]
                        return
            except (httpx.HTTPError, OSError, KeyError):
                pass
            time.sleep(0.3)
        raise AssertionError("condition not reached in time")

    def interrupt(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise

    def names(self, collection: str) -> dict[str, str]:
        with self.client() as client:
            items = client.get(f"{self.url}/{collection}").json()
        return {item["name"]: item.get("status", "") for key in items for item in items[key]}


def test_up_seeds_defaults_stops_on_ctrl_c_and_keeps_state(tmp_path: Path) -> None:
    up = Up(tmp_path / "data")
    up.start()
    try:
        up.wait(lambda c: set(up.names("hosts").values()) == {"up"} and len(up.names("hosts")) == 2)
        up.wait(lambda c: up.names("storagedomains").get("local-storage") == "active")
        assert up.names("datacenters") == {"Default": "up"}
        assert set(up.names("clusters")) == {"Default"}
        assert "ovirtmgmt" in up.names("networks")
        assert "Blank" in up.names("templates")
        with up.client() as client:
            reply = client.post(f"{up.url}/datacenters", json={"name": "kept"})
            assert reply.status_code == 201, reply.text
    finally:
        code = up.interrupt()
    assert code == 0
    for port in (up.port, up.agent_port, up.agent_port + 1):
        assert not is_listening(port), f"port {port} still open after Ctrl-C"

    up.start()
    try:
        assert "kept" in up.names("datacenters")
        up.wait(lambda c: set(up.names("hosts").values()) == {"up"})
        assert set(up.names("hosts")) == {"local", "sim-0001"}
        assert up.names("storagedomains") == {"local-storage": "active"}
    finally:
        assert up.interrupt() == 0
