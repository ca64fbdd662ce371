"""api_throughput: GET one VM and list 100 VMs with 10,000 VMs in the database.

Figures: p50/p99 latency and requests/s of each call, sequential over one keep-alive HTTPS
connection, JSON encoding; targets from the foundation issue (list p99 < 50 ms, get p99 < 10 ms).
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script or a module

from benchmarks.harness import latency_figures, live_engine, report
from virtfleet.common import apimodel as m
from virtfleet.common.apimodel.enums import VmStatus
from virtfleet.engine.assembly import build_engine
from virtfleet.engine.bootstrap import seed_defaults
from virtfleet.engine.config import EngineConfig
from virtfleet.engine.persistence import repositories as repos

GiB = 1024**3


def populate(data_dir: Path, count: int) -> None:
    """Write ``count`` VMs straight into the engine database before the engine starts."""
    (data_dir / "engine").mkdir(parents=True, exist_ok=True)
    ctx = build_engine(EngineConfig(data_dir=data_dir / "engine"))
    seed_defaults(ctx.database, ctx.clock)
    with ctx.database.transaction() as conn:
        cluster = repos.clusters.find_by_name(conn, "Default")
        assert cluster is not None and cluster.id is not None
        for index in range(count):
            repos.vms.insert(
                conn,
                m.Vm(
                    id=str(uuid.uuid4()),
                    name=f"bench-{index:05d}",
                    status=VmStatus.DOWN,
                    cluster=m.Cluster(id=cluster.id),
                    template=m.Template(id="00000000-0000-0000-0000-000000000000"),
                    memory=GiB,
                    cpu=m.Cpu(topology=m.CpuTopology(sockets=1, cores=1, threads=1)),
                    os=m.OperatingSystem(type="other_linux"),
                ),
            )
    ctx.database.dispose()
    ctx.eventlog.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1,000 VMs and fewer requests")
    args = parser.parse_args()
    vms, requests = (1_000, 200) if args.quick else (10_000, 1_000)

    data_dir = Path(tempfile.mkdtemp(prefix="vf-bench-api-"))
    try:
        populate(data_dir, vms)
        with live_engine(data_dir) as engine, engine.client() as client:
            ids = [vm["id"] for vm in client.get("/vms", params={"max": 500}).json()["vm"]]
            for _ in range(50):  # warm-up: connection, caches, the first queries
                client.get(f"/vms/{ids[0]}")
                client.get("/vms", params={"max": 100})
            get_samples, list_samples = [], []
            for i in range(requests):
                start = time.perf_counter()
                reply = client.get(f"/vms/{random.choice(ids)}")
                get_samples.append(time.perf_counter() - start)
                assert reply.status_code == 200, reply.text
                start = time.perf_counter()
                page = 1 + i % (vms // 100)
                reply = client.get("/vms", params={"max": 100, "search": f"page {page}"})
                list_samples.append(time.perf_counter() - start)
                assert reply.status_code == 200 and len(reply.json()["vm"]) == 100, reply.text
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)

    figures = {
        "vms_in_db": vms,
        "requests": requests,
        **latency_figures("get", get_samples),
        **latency_figures("list", list_samples),
    }
    met = figures["list_p99_ms"] < 50 and figures["get_p99_ms"] < 10
    report(
        "api_throughput",
        f"api_throughput: {vms} VMs; GET one p50 {figures['get_p50_ms']} ms p99 "
        f"{figures['get_p99_ms']} ms; list 100 p50 {figures['list_p50_ms']} ms p99 "
        f"{figures['list_p99_ms']} ms",
        figures,
        {"list_p99_ms": "< 50", "get_p99_ms": "< 10"},
        met,
    )


if __name__ == "__main__":
    main()
