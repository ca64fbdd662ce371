"""monitoring_scale: one engine watching 1,000 simulated hosts running 20,000 VMs.

The agents run in separate ``simhosts`` processes (real protocol, mutual TLS); the engine is
``virtfleet engine`` with oVirt's 3 s heartbeat and 15 s stats. Figures: the engine's CPU
(cores) at steady state, its RSS, and the lag from a host-side VM change (destroy) to the
engine's VM_DOWN event on the live stream and to the VM row reading ``down``.
"""

from __future__ import annotations

import argparse
import json
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script or a module

import contextlib

import httpx

from benchmarks.harness import (
    LiveEngine,
    engine_process,
    percentile,
    process_cpu_seconds,
    process_rss_bytes,
    report,
    stop_process,
)

T = TypeVar("T")
THREADS = 8
MiB = 1024**2
STREAM_PATH = "/ovirt-engine/services/events-stream"
DOWN_CODES = {61, 119, 33}  # VM_DOWN, VM_DOWN_ERROR, USER_STOP_VM


@dataclass
class Size:
    hosts: int
    vms: int
    processes: int
    cpu_window_s: float
    changes: int
    change_interval_s: float
    vm_budget_s: float


FULL = Size(1_000, 20_000, 4, 60.0, 200, 0.1, 1800.0)
QUICK = Size(20, 200, 2, 8.0, 40, 0.05, 30.0)


@dataclass
class SimProcess:
    process: subprocess.Popen[str]
    agents: list[dict[str, Any]]
    lines: queue.Queue[dict[str, Any]] = field(default_factory=queue.Queue)

    def command(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()

    def pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(json.loads(line))


def start_simhosts(base: Path, size: Size) -> list[SimProcess]:
    script = Path(__file__).with_name("simhosts.py")
    per = [
        size.hosts // size.processes + (i < size.hosts % size.processes)
        for i in range(size.processes)
    ]
    started = []
    for index, count in enumerate(per):
        process = subprocess.Popen(
            [
                sys.executable,
                str(script),
                "--count",
                str(count),
                "--base-dir",
                str(base / f"p{index}"),
                "--prefix",
                f"sim{index}-",
                "--stats-interval",
                "15",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(base / f"simhosts-{index}.log", "w"),  # noqa: SIM115 - lives with it
            text=True,
        )
        started.append(SimProcess(process, []))
    for sim in started:
        assert sim.process.stdout is not None
        ready = json.loads(sim.process.stdout.readline() or "{}")
        if not ready.get("ready"):
            raise RuntimeError(f"simhosts failed to start; see {base}/simhosts-*.log")
        sim.agents = ready["agents"]
        threading.Thread(target=sim.pump, daemon=True).start()
    return started


def stop_simhosts(sims: list[SimProcess]) -> None:
    """Ask every helper process to quit (all at once, so they wind down together), then stop
    each by its PID."""
    for sim in sims:
        with contextlib.suppress(OSError):
            sim.command("quit")
    for sim in sims:
        stop_process(sim.process)


def parallel(
    fn: Callable[[httpx.Client, T], Any], items: Iterable[T], engine: LiveEngine
) -> list[Any]:
    """``fn(client, item)`` over ``items`` from THREADS threads, one HTTPS client each."""
    local = threading.local()
    clients: list[httpx.Client] = []
    lock = threading.Lock()

    def call(item: T) -> Any:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = engine.client()
            with lock:
                clients.append(client)
        return fn(client, item)

    try:
        with ThreadPoolExecutor(THREADS) as pool:
            return list(pool.map(call, items))
    finally:
        for client in clients:
            client.close()


def _check(reply: httpx.Response) -> dict[str, Any]:
    if reply.status_code >= 400:
        raise RuntimeError(
            f"{reply.request.method} {reply.request.url}: {reply.status_code} {reply.text[:300]}"
        )
    result: dict[str, Any] = reply.json() if reply.content else {}
    return result


def add_host(client: httpx.Client, agent: dict[str, Any]) -> str:
    body = {
        "name": agent["name"],
        "address": "127.0.0.1",
        "port": agent["port"],
        "root_password": agent["secret"],
        "cluster": {"name": "Default"},
    }
    return str(_check(client.post("/hosts", json=body))["id"])


def add_hosts_until_up(engine: LiveEngine, agents: list[dict[str, Any]]) -> dict[str, Any]:
    """Add every agent as a host and wait until all are up; the figures of that ramp."""
    start = time.monotonic()
    parallel(add_host, agents, engine)
    figures: dict[str, Any] = {
        "hosts_added_per_s": round(len(agents) / (time.monotonic() - start), 1)
    }
    with engine.client() as client:
        wait_until(
            "hosts up",
            lambda: count_status(client, "hosts", "status=up") >= len(agents),
            timeout=max(120.0, len(agents) * 0.5),
        )
        figures["hosts"] = count_status(client, "hosts", "status=up")
    figures["hosts_up_s"] = round(time.monotonic() - start, 1)
    return figures


def count_status(client: httpx.Client, collection: str, search: str) -> int:
    reply = _check(client.get(f"/{collection}", params={"search": search}))
    return len(reply.get(collection[:-1], []))


def any_matching(client: httpx.Client, collection: str, search: str) -> bool:
    """Whether anything matches, asking for one row only (a full listing loads the engine)."""
    reply = _check(client.get(f"/{collection}", params={"search": search, "max": "1"}))
    return bool(reply.get(collection[:-1]))


def wait_until(what: str, done: Callable[[], bool], timeout: float, every: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if done():
            return True
        time.sleep(every)
    print(f"gave up waiting for {what} after {timeout:.0f} s", file=sys.stderr)
    return False


def add_vm(client: httpx.Client, index: int) -> str:
    body = {
        "name": f"mon-{index:05d}",
        "cluster": {"name": "Default"},
        "template": {"name": "Blank"},
        "memory": 256 * MiB,
    }
    return str(_check(client.post("/vms", json=body))["id"])


def start_vm(client: httpx.Client, vm_id: str) -> bool:
    reply = client.post(f"/vms/{vm_id}/start", json={})
    if reply.status_code >= 400:
        print(f"start {vm_id}: {reply.status_code} {reply.text[:200]}", file=sys.stderr)
        return False
    return True


def last_event_id(client: httpx.Client) -> int:
    events = _check(client.get("/events", params={"max": 1})).get("event", [])
    return max((int(e["id"]) for e in events), default=0)


class EventWatcher:
    """Reads the engine's SSE stream and notes when each VM's first down event arrives."""

    def __init__(self, engine: LiveEngine, after: int) -> None:
        self.arrived: dict[str, float] = {}
        self._engine = engine
        self._after = after
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._client = httpx.Client(
            verify=str(engine.ca_file),
            auth=("admin@internal", engine.password),
            timeout=httpx.Timeout(10, read=None),
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Close the stream from here, so the engine is not left with a subscriber."""
        self._stop.set()
        self._client.close()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        try:
            self._read()
        except Exception as exc:
            if not self._stop.is_set():
                print(f"event stream ended: {exc}", file=sys.stderr)

    def _read(self) -> None:
        url = self._engine.url.replace("/ovirt-engine/api", STREAM_PATH)
        with self._client.stream("GET", url, params={"from": self._after}) as reply:
            data = ""
            for line in reply.iter_lines():
                if self._stop.is_set():
                    return
                if line.startswith("data: "):
                    data = line[6:]
                elif not line and data:
                    event = json.loads(data)
                    data = ""
                    vm_id = (event.get("vm") or {}).get("id")
                    if vm_id and int(event.get("code", 0)) in DOWN_CODES:
                        self.arrived.setdefault(vm_id, time.time())


class RowPoller:
    """Polls the row of every VM changed on a host until it reads down."""

    def __init__(self, engine: LiveEngine) -> None:
        self.pending: dict[str, float] = {}
        self.arrived: dict[str, float] = {}
        self._lock = threading.Lock()
        self._engine = engine
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def watch(self, vm_id: str) -> None:
        with self._lock:
            self.pending[vm_id] = time.time()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        with self._engine.client() as client:
            while not self._stop.is_set():
                with self._lock:
                    todo = [v for v in self.pending if v not in self.arrived]
                if not todo:
                    time.sleep(0.02)
                for vm_id in todo:
                    reply = client.get(f"/vms/{vm_id}")
                    if reply.status_code == 200 and reply.json().get("status") == "down":
                        self.arrived[vm_id] = time.time()


def lag_figures(
    prefix: str, changes: dict[str, float], arrived: dict[str, float]
) -> dict[str, Any]:
    lags = [arrived[v] - t for v, t in changes.items() if v in arrived]
    if not lags:
        return {f"{prefix}_seen": 0}
    return {
        f"{prefix}_seen": len(lags),
        f"{prefix}_p50_s": round(percentile(lags, 0.5), 3),
        f"{prefix}_p99_s": round(percentile(lags, 0.99), 3),
        f"{prefix}_max_s": round(max(lags), 3),
    }


def measure_lag(engine: LiveEngine, sims: list[SimProcess], size: Size) -> dict[str, Any]:
    with engine.client() as client:
        after = last_event_id(client)
    watcher, poller = EventWatcher(engine, after), RowPoller(engine)
    watcher.start()
    poller.start()
    time.sleep(1.0)
    changes: dict[str, float] = {}
    per = max(1, size.changes // len(sims))
    interval = size.change_interval_s * len(sims)
    for sim in sims:
        sim.command(f"destroy {per} {interval}")
    finished = 0
    deadline = time.monotonic() + per * interval + 60
    while finished < len(sims) and time.monotonic() < deadline:
        for sim in sims:
            try:
                line = sim.lines.get(timeout=0.1)
            except queue.Empty:
                continue
            if "done" in line:
                finished += 1
            elif "vm_id" in line:
                changes[line["vm_id"]] = float(line["t"])
                poller.watch(line["vm_id"])
    wait_until(
        "down events",
        lambda: all(v in watcher.arrived and v in poller.arrived for v in changes),
        timeout=30,
        every=0.5,
    )
    watcher.stop()
    poller.stop()
    return {
        "changes": len(changes),
        **lag_figures("event_lag", changes, watcher.arrived),
        **lag_figures("poll_lag", changes, poller.arrived),
    }


def engine_cpu(engine: LiveEngine, window_s: float) -> dict[str, Any]:
    pid = engine.process.pid
    cpu0, wall0 = process_cpu_seconds(pid), time.monotonic()
    time.sleep(window_s)
    cpu1, wall1 = process_cpu_seconds(pid), time.monotonic()
    return {
        "cpu_window_s": round(wall1 - wall0, 1),
        "engine_cores": round((cpu1 - cpu0) / (wall1 - wall0), 3),
        "engine_rss_mib": round(process_rss_bytes(pid) / MiB, 1),
    }


def start_vms(engine: LiveEngine, size: Size, figures: dict[str, Any]) -> int:
    """Create and start VMs in batches until all are started or the time budget is spent."""
    created = accepted = rejected = 0
    create_s = start_s = 0.0
    budget_end = time.monotonic() + size.vm_budget_s
    while created < size.vms and time.monotonic() < budget_end:
        batch = range(created, min(size.vms, created + 500))
        t0 = time.monotonic()
        vm_ids = parallel(add_vm, batch, engine)
        t1 = time.monotonic()
        results = parallel(start_vm, vm_ids, engine)
        create_s, start_s = create_s + t1 - t0, start_s + time.monotonic() - t1
        created += len(vm_ids)
        accepted, rejected = accepted + results.count(True), rejected + results.count(False)
    if created < size.vms:
        print(f"VM budget of {size.vm_budget_s:.0f} s spent after {created} VMs", file=sys.stderr)
    figures.update(
        vms_created=created,
        vms_created_per_s=round(created / (create_s or 1e-9), 1),
        vm_start_accepted_per_s=round(created / (start_s or 1e-9), 1),
        vm_start_rejected=rejected,
    )
    return accepted


def run(size: Size, base: Path) -> dict[str, Any]:
    figures: dict[str, Any] = {"hosts_planned": size.hosts, "vms_planned": size.vms}
    setup_start = time.monotonic()
    sims = start_simhosts(base, size)
    figures["simhosts_processes"] = len(sims)
    try:
        with engine_process(
            base, host_heartbeat_interval_s=3.0, host_stats_interval_s=15.0
        ) as engine:
            agents = [agent for sim in sims for agent in sim.agents]
            figures.update(add_hosts_until_up(engine, agents))

            start = time.monotonic()
            started = start_vms(engine, size, figures)
            with engine.client() as client:
                wait_until(
                    "VMs up",
                    lambda: count_status(client, "vms", "status=up") >= started,
                    timeout=max(60.0, size.vm_budget_s),
                    every=5.0,
                )
                figures["vms"] = count_status(client, "vms", "status=up")
            figures["vms_up_s"] = round(time.monotonic() - start, 1)
            figures["vms_up_per_s"] = round(figures["vms"] / figures["vms_up_s"], 1)
            with engine.client() as client:
                # Steady state: every VM up and every start job finished, then a short pause.
                wait_until(
                    "start jobs finished",
                    lambda: not any_matching(client, "jobs", "status=started"),
                    timeout=max(60.0, size.vm_budget_s),
                    every=5.0,
                )
                figures["jobs_left_at_window"] = any_matching(client, "jobs", "status=started")
            figures["setup_s"] = round(time.monotonic() - setup_start, 1)

            time.sleep(min(30.0, size.cpu_window_s / 2))  # let the start-up burst settle
            figures.update(engine_cpu(engine, size.cpu_window_s))
            figures.update(measure_lag(engine, sims, size))
            figures["engine_rss_mib_end"] = round(process_rss_bytes(engine.process.pid) / MiB, 1)
    finally:
        stop_simhosts(sims)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="20 hosts and 200 VMs")
    parser.add_argument("--hosts", type=int, help="override the number of hosts")
    parser.add_argument("--vms", type=int, help="override the number of VMs")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs)")
    args = parser.parse_args()
    size = QUICK if args.quick else FULL
    if args.hosts or args.vms:
        size = Size(
            args.hosts or size.hosts,
            args.vms or size.vms,
            size.processes,
            size.cpu_window_s,
            size.changes,
            size.change_interval_s,
            size.vm_budget_s,
        )
    base = Path(tempfile.mkdtemp(prefix="vf-bench-mon-"))
    try:
        figures = run(size, base)
    finally:
        if args.keep:
            print(f"kept {base}", file=sys.stderr)
        else:
            shutil.rmtree(base, ignore_errors=True)

    lag = figures.get("event_lag_p99_s", float("inf"))
    met = (
        figures.get("hosts") == size.hosts
        and figures.get("vms") == size.vms
        and lag < 1.0
        and figures.get("engine_cores", float("inf")) < 0.5
    )
    report(
        "monitoring_scale",
        f"monitoring_scale: {figures.get('hosts')} hosts up, {figures.get('vms')} VMs up; "
        f"engine {figures.get('engine_cores')} cores, RSS {figures.get('engine_rss_mib')} MiB; "
        f"event lag p50 {figures.get('event_lag_p50_s')} s p99 {lag} s over "
        f"{figures.get('changes')} changes",
        figures,
        {
            "event_lag_p99_s": "< 1",
            "engine_cores": "< 0.5",
            "hosts": f"== {size.hosts}",
            "vms": f"== {size.vms}",
        },
        bool(met),
    )


if __name__ == "__main__":
    main()
