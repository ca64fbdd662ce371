"""Shared pieces of the benchmarks: a live engine in a subprocess, timing, the JSON report."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def latency_figures(prefix: str, samples_s: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in samples_s]
    return {
        f"{prefix}_p50_ms": round(percentile(ms, 0.50), 2),
        f"{prefix}_p99_ms": round(percentile(ms, 0.99), 2),
        f"{prefix}_mean_ms": round(statistics.fmean(ms), 2),
        f"{prefix}_rps": round(len(ms) / (sum(samples_s) or 1e-9), 1),
    }


def report(
    name: str, summary: str, figures: Mapping[str, Any], targets: Mapping[str, str], met: bool
) -> None:
    """One human line, then the JSON object on the last line (DESIGN.md §9)."""
    print(summary)
    print(
        json.dumps(
            {"benchmark": name, "figures": dict(figures), "targets": dict(targets), "met": met}
        )
    )


@dataclass
class LiveEngine:
    url: str
    ca_file: Path
    password: str
    data_dir: Path
    process: subprocess.Popen[bytes]

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            verify=str(self.ca_file),
            auth=("admin@internal", self.password),
            headers={"Accept": "application/json", "Version": "4"},
            timeout=60,
        )


def _console_script() -> list[str]:
    script = Path(sys.executable).with_name("virtfleet")
    return (
        [str(script)]
        if script.exists()
        else [sys.executable, "-c", "from virtfleet.cli.main import app; app()"]
    )


@contextmanager
def live_engine(
    data_dir: Path | None = None, *, simulate: int = 0, password: str | None = None
) -> Iterator[LiveEngine]:
    """``virtfleet up`` in a subprocess on free ports, stopped by PID at the end."""
    own_dir = data_dir is None
    data_dir = data_dir or Path(tempfile.mkdtemp(prefix="vf-bench-"))
    password = password or secrets.token_urlsafe(12)
    port, agent_port = free_port(), free_port_run(simulate + 1)
    argv = [
        *("up", "--data-dir", str(data_dir), "--port", str(port)),
        *("--agent-port", str(agent_port), "--simulate", str(simulate)),
        *("--local-driver", "test"),
    ]
    try:
        with _serving(argv, data_dir / "up.log", port, data_dir, password) as engine:
            yield engine
    finally:
        if own_dir:
            shutil.rmtree(data_dir, ignore_errors=True)


def free_port_run(count: int) -> int:
    """A base port with ``count`` free ports after it (agents of ``up`` take consecutive ports)."""
    for _ in range(50):
        base = free_port()
        if base + count >= 65000:
            continue
        socks = []
        try:
            for offset in range(count):
                sock = socket.socket()
                sock.bind(("127.0.0.1", base + offset))
                socks.append(sock)
            return base
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
    raise RuntimeError("no run of free ports found")


def _wait_healthy(engine: LiveEngine, timeout: float = 120.0) -> None:
    health = engine.url.replace("/ovirt-engine/api", "/ovirt-engine/services/health")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if engine.process.poll() is not None:
            raise RuntimeError(f"virtfleet up exited early: see {engine.data_dir / 'up.log'}")
        if engine.ca_file.exists():
            try:
                if httpx.get(health, verify=str(engine.ca_file), timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
        time.sleep(0.3)
    raise RuntimeError("the engine did not become healthy in time")


def write_engine_config(data_dir: Path, port: int, **settings: float | str) -> Path:
    """A TOML config for ``virtfleet engine`` with its data (SQLite, PKI) under ``data_dir``."""
    lines = [f'data_dir = "{data_dir / "engine"}"', f"port = {port}"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
    path = data_dir / "engine.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@contextmanager
def engine_process(data_dir: Path, **settings: float | str) -> Iterator[LiveEngine]:
    """``virtfleet engine --config`` alone in a subprocess (no agents), stopped by PID."""
    port = free_port()
    config = write_engine_config(data_dir, port, **settings)
    password = secrets.token_urlsafe(12)
    argv = ["engine", "--config", str(config)]
    with _serving(argv, data_dir / "engine.log", port, data_dir, password) as engine:
        yield engine


@contextmanager
def _serving(
    argv: list[str], log_path: Path, port: int, data_dir: Path, password: str
) -> Iterator[LiveEngine]:
    """Run ``virtfleet <argv>`` until the block ends; healthy before it yields, stopped by PID."""
    env = {**os.environ, "VIRTFLEET_ADMIN_PASSWORD": password}
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [*_console_script(), *argv], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        engine = LiveEngine(
            f"https://localhost:{port}/ovirt-engine/api",
            data_dir / "engine" / "pki" / "ca.crt",
            password,
            data_dir,
            process,
        )
        try:
            _wait_healthy(engine)
            yield engine
        finally:
            stop_process(process)


def stop_process(process: subprocess.Popen[Any], timeout: float = 30.0) -> None:
    """SIGTERM, then SIGKILL after ``timeout``; only this one PID."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` (all its threads), from /proc/<pid>/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0
