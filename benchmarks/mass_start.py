"""mass_start: create 20,000 VMs on 1,000 simulated hosts and start them all as fast as the
engine takes them.

The agents run in separate ``simhosts`` processes (real protocol, mutual TLS); the engine is
``virtfleet engine``. Starts are posted from 8 threads; a 503 (the command runner is full) is
retried after its Retry-After, as a well-behaved client would. Figures: starts per second
(VMs up over the time from the first start until all are up), the engine's RSS once all are
up, its CPU at steady state afterwards, and the scheduler's decision time at that size, measured
in this process on the engine's database (the same ``Scheduler.place`` the engine runs, with
host reports held in memory as the host monitor holds them).
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script or a module

import httpx

from benchmarks.harness import (
    LiveEngine,
    engine_process,
    percentile,
    process_rss_bytes,
    report,
)
from benchmarks.monitoring_scale import Size as SimSize
from benchmarks.monitoring_scale import (
    add_hosts_until_up,
    any_matching,
    count_status,
    engine_cpu,
    parallel,
    start_simhosts,
    stop_simhosts,
    wait_until,
)
from virtfleet.common import apimodel as m
from virtfleet.common.apimodel.enums import HostStatus, VmStatus
from virtfleet.common.clock import SystemClock
from virtfleet.engine.bootstrap import seed_defaults
from virtfleet.engine.monitoring.hoststate import free_memory_of
from virtfleet.engine.persistence import repositories as repos
from virtfleet.engine.persistence import tables
from virtfleet.engine.persistence.database import Database
from virtfleet.engine.scheduler.ledger import HostUsage
from virtfleet.engine.scheduler.scheduler import Scheduler

MiB = 1024**2
GiB = 1024**3


@dataclass
class Size:
    hosts: int
    vms: int
    processes: int
    cpu_window_s: float
    budget_s: float
    place_samples: int


FULL = Size(1_000, 20_000, 4, 60.0, 2400.0, 2_000)
QUICK = Size(20, 400, 2, 8.0, 60.0, 300)


def add_vm(client: httpx.Client, index: int) -> str:
    body = {"name": f"mass-{index:05d}", "cluster": {"name": "Default"}, "memory": 256 * MiB}
    reply = client.post("/vms", json=body)
    if reply.status_code != 201:
        raise RuntimeError(f"add VM {index}: {reply.status_code} {reply.text[:300]}")
    return str(reply.json()["id"])


class Starter:
    """Posts starts; waits out a 503's Retry-After and tries again; posts nothing once the
    time budget is spent (those VMs count as not started)."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.skipped = 0
        self.busy = 0
        self.refused: list[str] = []
        self.latencies: list[float] = []
        self._lock = threading.Lock()

    def __call__(self, client: httpx.Client, vm_id: str) -> bool:
        while True:
            if time.monotonic() > self.deadline:
                with self._lock:
                    self.skipped += 1
                return False
            began = time.monotonic()
            reply = client.post(f"/vms/{vm_id}/start", json={})
            elapsed = time.monotonic() - began
            if reply.status_code == 503:
                with self._lock:
                    self.busy += 1
                time.sleep(float(reply.headers.get("Retry-After", "1")))
                continue
            with self._lock:
                self.latencies.append(elapsed)
                if reply.status_code != 200:
                    self.refused.append(f"{reply.status_code} {reply.text[:200]}")
            return reply.status_code == 200


def measure_place(
    database: Database, reports: dict[str, HostUsage], samples: int
) -> dict[str, Any]:
    """``Scheduler.place`` timed on ``database`` as it stands: CPU time of the deciding thread
    (what a decision costs) and wall time (what it took on this shared machine)."""
    with database.read() as conn:
        vms = repos.vms.query(conn, tables.vms.c.id.is_not(None), limit=samples)
    scheduler = Scheduler(lambda conn, ids: {h: reports[h] for h in ids if h in reports})
    with database.read() as conn:
        began = time.monotonic()
        scheduler.rebuild(conn)
        rebuild_s = time.monotonic() - began
        cpu, wall = [], []
        for vm in vms:
            began, began_cpu = time.monotonic(), time.thread_time()
            scheduler.place(conn, vm)
            cpu.append(time.thread_time() - began_cpu)
            wall.append(time.monotonic() - began)
            assert vm.id is not None
            scheduler.release(vm.id)
    cpu_ms, wall_ms = [t * 1000 for t in cpu], [t * 1000 for t in wall]
    return {
        "place_samples": len(cpu_ms),
        "place_p50_ms": round(percentile(cpu_ms, 0.5), 3),
        "place_p99_ms": round(percentile(cpu_ms, 0.99), 3),
        "place_wall_p50_ms": round(percentile(wall_ms, 0.5), 3),
        "place_wall_p99_ms": round(percentile(wall_ms, 0.99), 3),
        "ledger_rebuild_ms": round(rebuild_s * 1000, 1),
    }


def place_on_engine_database(url: str, samples: int) -> dict[str, Any]:
    """Placement on the database the engine left, with the free memory hosts last reported."""
    database = Database(url)
    try:
        with database.read() as conn:
            host_ids = [row.id for row in conn.execute(tables.hosts.select())]
            free = free_memory_of(conn, host_ids)
        reports = {h: HostUsage(memory_free=f) for h, f in free.items()}
        return measure_place(database, reports, samples)
    finally:
        database.dispose()


def place_on_synthetic_fleet(size: Size, base: Path) -> dict[str, Any]:
    """Placement at full size without the ramp: the engine's schema with ``size.hosts`` up hosts
    (16 GiB, 8 threads) and ``size.vms`` VMs of 256 MiB up on them, written row by row through
    the engine's repositories, and the free memory each host would report."""
    database = Database(f"sqlite:///{base / 'fleet.db'}")
    try:
        database.migrate()
        seed_defaults(database, SystemClock())
        with database.transaction() as conn:
            cluster = repos.clusters.find_by_name(conn, "Default")
            assert cluster is not None and cluster.id is not None
            hosts = [
                m.Host(
                    id=str(uuid.uuid4()),
                    name=f"sim-{index:04d}",
                    address="127.0.0.1",
                    port=20000 + index,
                    cluster=m.Cluster(id=cluster.id),
                    status=HostStatus.UP,
                    memory=16 * GiB,
                    cpu=m.Cpu(topology=m.CpuTopology(sockets=1, cores=8, threads=1)),
                )
                for index in range(size.hosts)
            ]
            for host in hosts:
                repos.hosts.insert(conn, host)
            for index in range(size.vms):
                repos.vms.insert(
                    conn,
                    m.Vm(
                        id=str(uuid.uuid4()),
                        name=f"mass-{index:05d}",
                        cluster=m.Cluster(id=cluster.id),
                        host=m.Host(id=hosts[index % len(hosts)].id),
                        status=VmStatus.UP,
                        memory=256 * MiB,
                    ),
                )
        per_host = size.vms // size.hosts
        reports = {h.id or "": HostUsage(16 * GiB - per_host * 256 * MiB, 10.0) for h in hosts}
        return {
            "fleet": f"{size.hosts} hosts, {size.vms} VMs up",
            **measure_place(database, reports, size.place_samples),
        }
    finally:
        database.dispose()


def run(size: Size, base: Path) -> dict[str, Any]:
    figures: dict[str, Any] = {"hosts_planned": size.hosts, "vms_planned": size.vms}
    sims = start_simhosts(base, SimSize(size.hosts, size.vms, size.processes, 0, 0, 0, 0))
    try:
        with engine_process(
            base, host_heartbeat_interval_s=3.0, host_stats_interval_s=15.0
        ) as engine:
            figures.update(ramp(engine, [a for s in sims for a in s.agents], size))
            url = f"sqlite:///{engine.data_dir / 'engine' / 'engine.db'}"
        figures.update(place_on_engine_database(url, size.place_samples))
    finally:
        stop_simhosts(sims)
    return figures


def ramp(engine: LiveEngine, agents: list[dict[str, Any]], size: Size) -> dict[str, Any]:
    figures: dict[str, Any] = add_hosts_until_up(engine, agents)

    began = time.monotonic()
    vm_ids = parallel(add_vm, range(size.vms), engine)
    figures["vms_created_per_s"] = round(len(vm_ids) / (time.monotonic() - began), 1)

    began = time.monotonic()
    starter = Starter(began + size.budget_s)
    accepted = parallel(starter, vm_ids, engine).count(True)
    accepting_s = time.monotonic() - began
    with engine.client() as client:
        wait_until(
            "VMs up",
            lambda: count_status(client, "vms", "status=up") >= accepted,
            timeout=size.budget_s,
            every=1.0,
        )
        all_up_s = time.monotonic() - began
        figures["vms_up"] = count_status(client, "vms", "status=up")
    figures.update(
        starts_accepted=accepted,
        starts_refused=len(starter.refused),
        first_refusals=starter.refused[:3],
        busy_503s=starter.busy,
        starts_skipped_over_budget=starter.skipped,
        starts_accepted_per_s=round(accepted / accepting_s, 1),
        start_call_p99_ms=round(percentile([t * 1000 for t in starter.latencies], 0.99), 1),
        all_up_s=round(all_up_s, 1),
        starts_per_s=round(figures["vms_up"] / all_up_s, 1),
        rss_after_gib=round(process_rss_bytes(engine.process.pid) / GiB, 3),
    )
    with engine.client() as client:
        wait_until(
            "start jobs finished",
            lambda: not any_matching(client, "jobs", "status=started"),
            timeout=size.budget_s,
        )
    time.sleep(min(30.0, size.cpu_window_s / 2))  # let the burst settle
    figures.update(engine_cpu(engine, size.cpu_window_s))
    return figures


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(f"stopped by signal {signum}")  # so every finally block cleans up


def main() -> None:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="20 hosts and 400 VMs")
    parser.add_argument("--hosts", type=int, help="override the number of hosts")
    parser.add_argument("--vms", type=int, help="override the number of VMs")
    parser.add_argument(
        "--place-only",
        action="store_true",
        help="only time placement, on a fleet written straight into a database",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs)")
    args = parser.parse_args()
    size = QUICK if args.quick else FULL
    size = dataclasses.replace(size, hosts=args.hosts or size.hosts, vms=args.vms or size.vms)
    base = Path(tempfile.mkdtemp(prefix="vf-bench-mass-"))
    try:
        if args.place_only:
            figures = place_on_synthetic_fleet(size, base)
            report(
                "mass_start",
                f"mass_start --place-only: {figures['fleet']}; place p50 "
                f"{figures['place_p50_ms']} ms, p99 {figures['place_p99_ms']} ms of CPU",
                figures,
                {"place_p99_ms": "<= 2"},
                figures["place_p99_ms"] <= 2,
            )
            return
        figures = run(size, base)
    finally:
        if args.keep:
            print(f"kept {base}", file=sys.stderr)
        else:
            shutil.rmtree(base, ignore_errors=True)
    targets = {
        "starts_per_s": ">= 200",
        "rss_after_gib": "<= 1.5",
        "place_p99_ms": "<= 2",
        "engine_cores": "<= 0.25",
        "vms_up": f"== {size.vms}",
    }
    met = (
        figures.get("vms_up") == size.vms
        and figures.get("starts_per_s", 0) >= 200
        and figures.get("rss_after_gib", 99) <= 1.5
        and figures.get("place_p99_ms", 99) <= 2
        and figures.get("engine_cores", 99) <= 0.25
    )
    report(
        "mass_start",
        f"mass_start: {figures.get('vms_up')} of {size.vms} VMs up on {figures.get('hosts')} "
        f"hosts in {figures.get('all_up_s')} s ({figures.get('starts_per_s')}/s); RSS "
        f"{figures.get('rss_after_gib')} GiB; place p99 {figures.get('place_p99_ms')} ms; "
        f"engine {figures.get('engine_cores')} cores at rest",
        figures,
        targets,
        bool(met),
    )


if __name__ == "__main__":
    main()
