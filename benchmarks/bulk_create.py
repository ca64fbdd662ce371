"""bulk_create: create 1,000 VMs through the official oVirt SDK from several threads.

Figures: accepted VMs/s (each thread has its own ``ovirtsdk4.Connection``), then a check that
every VM exists, is down, has a unique name and id, and that its NICs and references are
consistent (cluster Default, template Blank, NICs owned by the VM with unique MACs).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script or a module

import ovirtsdk4
import ovirtsdk4.types as types

from benchmarks.harness import LiveEngine, latency_figures, live_engine, report

THREADS = 8
PREFIX = "bulk-"


def _connect(engine: LiveEngine) -> ovirtsdk4.Connection:
    return ovirtsdk4.Connection(
        url=engine.url,
        username="admin@internal",
        password=engine.password,
        ca_file=str(engine.ca_file),
        timeout=120,
    )


def create_all(engine: LiveEngine, count: int, threads: int) -> tuple[float, list[float], int]:
    """Create ``count`` VMs from ``threads`` threads; returns wall seconds, latencies, errors.

    Each thread logs in before the clock starts, so the figure is VM creation, not SSO.
    """
    connections = [_connect(engine) for _ in range(threads)]
    indices = iter(range(count))
    lock = threading.Lock()
    errors: list[str] = []
    latencies: list[float] = []
    ready = threading.Barrier(threads + 1)

    def worker(conn: ovirtsdk4.Connection) -> None:
        vms_service = conn.system_service().vms_service()
        conn.test(raise_exception=True)
        ready.wait()
        while True:
            with lock:
                index = next(indices, None)
            if index is None:
                return
            start = time.perf_counter()
            try:
                vms_service.add(
                    types.Vm(
                        name=f"{PREFIX}{index:05d}",
                        cluster=types.Cluster(name="Default"),
                        template=types.Template(name="Blank"),
                    )
                )
            except ovirtsdk4.Error as exc:
                with lock:
                    errors.append(str(exc))
            with lock:
                latencies.append(time.perf_counter() - start)

    workers = [threading.Thread(target=worker, args=(conn,), daemon=True) for conn in connections]
    try:
        for thread in workers:
            thread.start()
        ready.wait()
        start = time.perf_counter()
        for thread in workers:
            thread.join()
        wall = time.perf_counter() - start
    finally:
        for conn in connections:
            conn.close()
    if errors:
        print(f"first creation error of {len(errors)}: {errors[0]}", file=sys.stderr)
    return wall, latencies, len(errors)


def verify(engine: LiveEngine, count: int) -> dict[str, Any]:
    """Read everything back and check the invariants; returns figures."""
    conn = _connect(engine)
    try:
        system = conn.system_service()
        cluster = system.clusters_service().list(search="name=Default")[0]
        blank = system.templates_service().list(search="name=Blank")[0]
        template_nics = len(
            system.templates_service().template_service(blank.id).nics_service().list()
        )
        vms = [vm for vm in system.vms_service().list() if (vm.name or "").startswith(PREFIX)]
        names = Counter(vm.name for vm in vms)
        ids = Counter(vm.id for vm in vms)
        problems: list[str] = []
        if len(vms) != count:
            problems.append(f"{len(vms)} VMs found, {count} created")
        if any(n > 1 for n in names.values()) or any(n > 1 for n in ids.values()):
            problems.append("duplicate names or ids")
        not_down = [vm.name for vm in vms if vm.status != types.VmStatus.DOWN]
        if not_down:
            problems.append(f"{len(not_down)} VMs not down")
        bad_refs = [
            vm.name
            for vm in vms
            if vm.cluster is None
            or vm.cluster.id != cluster.id
            or vm.template is None
            or vm.template.id != blank.id
        ]
        if bad_refs:
            problems.append(f"{len(bad_refs)} VMs with wrong cluster/template refs")
        macs: list[str] = []
        nic_problems = 0
        vms_service = system.vms_service()
        for vm in vms:
            nics = vms_service.vm_service(vm.id).nics_service().list()
            if len(nics) != template_nics:
                nic_problems += 1
            for nic in nics:
                if nic.vm is not None and nic.vm.id != vm.id:
                    nic_problems += 1
                if nic.mac is not None and nic.mac.address:
                    macs.append(nic.mac.address)
        if nic_problems:
            problems.append(f"{nic_problems} NIC inconsistencies")
        if len(macs) != len(set(macs)):
            problems.append("duplicate MAC addresses")
        if problems:
            print("inconsistencies: " + "; ".join(problems), file=sys.stderr)
        return {
            "vms_found": len(vms),
            "unique_names": len(names),
            "unique_ids": len(ids),
            "down": len(vms) - len(not_down),
            "nics_checked": len(macs),
            "consistent": not problems,
        }
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="100 VMs instead of 1,000")
    parser.add_argument("--threads", type=int, default=THREADS)
    args = parser.parse_args()
    count = 100 if args.quick else 1_000

    with live_engine(simulate=2) as engine:
        wall, latencies, errors = create_all(engine, count, args.threads)
        checks = verify(engine, count - errors)

    rate = round((count - errors) / wall, 1)
    figures = {
        "vms": count,
        "threads": args.threads,
        "errors": errors,
        "wall_s": round(wall, 2),
        "vms_per_s": rate,
        **{k: v for k, v in latency_figures("add", latencies).items() if not k.endswith("rps")},
        **checks,
        "count": checks["vms_found"],
    }
    met = rate >= 100 and checks["consistent"] and errors == 0
    report(
        "bulk_create",
        f"bulk_create: {count - errors}/{count} VMs in {wall:.1f} s = {rate} VMs/s from "
        f"{args.threads} SDK threads; add p50 {figures['add_p50_ms']} ms p99 "
        f"{figures['add_p99_ms']} ms; consistent={checks['consistent']}",
        figures,
        {"vms_per_s": ">= 100", "consistent": "== true"},
        met,
    )


if __name__ == "__main__":
    main()
