"""testbed_up: time to bring up a 3-host namespace testbed (libvirtd per host) and to tear it down.

Up counts until every host's libvirtd answers on its own address; down until nothing the testbed
made is left. Needs root (network namespaces, bridges, libvirtd).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script or a module

from benchmarks.harness import report
from virtfleet.testbed import Testbed

HOSTS = 3


def _answers(testbed: Testbed) -> bool:
    """Every host's libvirtd serves its own capabilities over TCP from inside its namespace."""
    for host in testbed.hosts:
        try:
            testbed.run_in(host, ["virsh", "-c", host.libvirt_uri, "capabilities"], timeout=120)
        except Exception:
            return False
    return True


def one_round(base: Path) -> tuple[float, float]:
    start = time.perf_counter()
    testbed = Testbed.up(base, hosts=HOSTS, prefix="vfb", subnet="10.73.0.0/24")
    try:
        while not _answers(testbed):
            time.sleep(0.1)
        up_s = time.perf_counter() - start
    finally:
        start = time.perf_counter()
        testbed.down()
        down_s = time.perf_counter() - start
    return up_s, down_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one round instead of three")
    args = parser.parse_args()
    if os.geteuid() != 0 or shutil.which("libvirtd") is None:
        print("testbed_up needs root and libvirtd", file=sys.stderr)
        sys.exit(2)
    rounds = 1 if args.quick else 3
    ups, downs = [], []
    for _ in range(rounds):
        base = Path(tempfile.mkdtemp(prefix="vf-bench-tb-"))
        try:
            up_s, down_s = one_round(base / "tb")
        finally:
            shutil.rmtree(base, ignore_errors=True)
        ups.append(up_s)
        downs.append(down_s)
    leftovers = subprocess.run(
        ["ip", "netns", "list"], capture_output=True, text=True, check=False
    ).stdout
    figures = {
        "hosts": HOSTS,
        "rounds": rounds,
        "up_s": round(statistics.median(ups), 2),
        "down_s": round(statistics.median(downs), 2),
        "up_max_s": round(max(ups), 2),
        "clean": "vfb" not in leftovers,
    }
    report(
        "testbed_up",
        f"testbed_up: {HOSTS} hosts up in {figures['up_s']} s (libvirtd answering on each), "
        f"down in {figures['down_s']} s, median of {rounds}",
        figures,
        {"clean": "== true"},
        bool(figures["clean"]),
    )


if __name__ == "__main__":
    main()
