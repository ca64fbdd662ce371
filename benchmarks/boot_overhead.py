"""boot_overhead: from the API `start` of a VM to the guest's marker on its serial console, against
bare `virsh define` + `virsh start` of the same domain XML to the same marker, on one testbed host.

The VM is created once through the engine (with its agent as a real process in the host's
namespace); an untimed first start captures the domain XML the agent defined. Then each run times
a virtfleet start and a bare start alternately. The figure is the ratio of the medians. Needs root.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script or a module

from benchmarks.harness import report
from virtfleet.testbed import GuestImage, Testbed, TestbedError, TestbedHost, build_guest_image
from virtfleet.testbed.initramfs import UP_MARKER
from virtfleet.testbed.lab import (
    JOB_S,
    Lab,
    active_data_domain,
    add_hosts,
    console_log,
    guest_vm,
    missing_requirements,
    open_lab,
    wait_console,
)
from virtfleet.testbed.proc import run

PREFIX = "vfo"
SUBNET = "10.80.0.0/24"
TARGET_RATIO = 1.15
BOOT_S = 180.0  # a TCG boot takes about 7 s here; much more when the machine is busy
POLL_S = 0.02  # both sides watch their console the same way, at this period


@dataclass
class Timings:
    """Seconds from the first call of each side to each milestone, per run."""

    virtfleet: list[float] = field(default_factory=list)
    virtfleet_api: list[float] = field(default_factory=list)
    virtfleet_job: list[float] = field(default_factory=list)
    bare: list[float] = field(default_factory=list)
    bare_define: list[float] = field(default_factory=list)
    bare_start: list[float] = field(default_factory=list)
    virtfleet_steps: list[dict[str, float]] = field(default_factory=list)
    first_virtfleet: float = 0.0


@dataclass(frozen=True)
class BareDomain:
    """What the bare runs define: virtfleet's XML with its own name, UUID, console and disk."""

    host: TestbedHost
    xml: bytes
    name: str
    console: Path


async def _virsh(host: TestbedHost, *args: str) -> str:
    return await asyncio.to_thread(run, ["virsh", "-c", host.libvirt_uri, *args], timeout=120)


async def _job_done_after(lab: Lab, job_id: str | None, started: float) -> float:
    if job_id is not None:
        job = await lab.ctx.runner.wait(job_id, BOOT_S)
        if job.status is None or job.status.value != "finished":
            raise TestbedError(f"the start job ended {job.status}: {job}")
    return time.perf_counter() - started


async def virtfleet_run(lab: Lab, vm_path: str, console: Path, timings: Timings) -> float:
    """Start through the API until the marker; then power off and wait until the VM is down."""
    offset = console.stat().st_size if console.exists() else 0
    started = time.perf_counter()
    job_id = await lab.api.act(vm_path, "start", wait=False)
    api_s = time.perf_counter() - started
    job = asyncio.create_task(_job_done_after(lab, job_id, started))
    try:
        await wait_console(console, [UP_MARKER], timeout=BOOT_S, start=offset, poll_s=POLL_S)
    except BaseException:
        job.cancel()
        raise
    boot_s = time.perf_counter() - started
    job_s = await job
    await power_off(lab, vm_path)
    timings.virtfleet_api.append(api_s)
    timings.virtfleet_job.append(job_s)
    if job_id is not None:
        timings.virtfleet_steps.append(await job_breakdown(lab, job_id))
    return boot_s


async def power_off(lab: Lab, vm_path: str) -> None:
    """The tiny guest ignores ACPI shutdowns: once the engine reports it up, power it off."""
    await lab.api.wait_status(vm_path, "up", JOB_S)
    await lab.api.act(vm_path, "stop")
    await lab.api.wait_status(vm_path, "down", JOB_S)


async def job_breakdown(lab: Lab, job_id: str) -> dict[str, float]:
    """Seconds the start job spent queued, in each of its steps, and finishing after them."""
    job = await lab.api.get(f"/jobs/{job_id}")
    steps = sorted(
        (await lab.api.get(f"/jobs/{job_id}/steps")).get("step", []),
        key=lambda step: int(step.get("number", 0)),
    )
    if not steps:
        return {}
    spent = {"queued": _between(job["start_time"], steps[0]["start_time"])}
    for step in steps:
        spent[str(step["description"])] = _between(step["start_time"], step["end_time"])
    spent["finishing"] = _between(steps[-1]["end_time"], job["end_time"])
    return spent


def _between(start: str | int, end: str | int) -> float:
    return (_instant(end) - _instant(start)).total_seconds()


def _instant(value: str | int) -> datetime:
    if isinstance(value, int):  # oVirt's JSON may give epoch milliseconds
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    return datetime.fromisoformat(value)


def bare_domain(host: TestbedHost, defined: bytes, work: Path, volume: Path) -> BareDomain:
    """virtfleet's domain XML with a fresh name and UUID, its own console log and a disk copy
    (kernel, initrd and every other device unchanged)."""
    root = etree.fromstring(defined)
    name = "bare-boot"
    console = work / f"{name}.log"
    disk = work / f"{name}-{volume.name}"
    shutil.copyfile(volume, disk)
    _set_text(root, "name", name)
    _set_text(root, "uuid", str(uuid.uuid4()))
    logs = 0
    for chardev in (*root.iterfind("devices/serial"), *root.iterfind("devices/console")):
        # a file chardev logs to its <source path>; a pty keeps a copy in its <log file>
        if chardev.get("type") == "file":
            node, attr = chardev.find("source"), "path"
        else:
            node, attr = chardev.find("log"), "file"
        if node is not None and node.get(attr):
            node.set(attr, str(console))
            logs += 1
    for source in root.iterfind("devices/disk/source"):
        if source.get("file") == str(volume):
            source.set("file", str(disk))
    if not logs:
        raise TestbedError("virtfleet's domain keeps no serial console log in a file")
    return BareDomain(host=host, xml=etree.tostring(root), name=name, console=console)


def _set_text(root: Any, tag: str, text: str) -> None:
    node = root.find(tag)
    if node is None:
        raise TestbedError(f"virtfleet's domain XML has no <{tag}>")
    node.text = text


async def bare_run(domain: BareDomain, work: Path, timings: Timings) -> float:
    """`virsh define` + `virsh start` until the marker; destroy and undefine whatever happens."""
    xml_file = work / f"{domain.name}.xml"
    xml_file.write_bytes(domain.xml)
    domain.console.unlink(missing_ok=True)
    started = time.perf_counter()
    try:
        await _virsh(domain.host, "define", str(xml_file))
        define_s = time.perf_counter() - started
        await _virsh(domain.host, "start", domain.name)
        start_s = time.perf_counter() - started
        await wait_console(domain.console, [UP_MARKER], timeout=BOOT_S, poll_s=POLL_S)
        boot_s = time.perf_counter() - started
    finally:
        await remove_bare(domain)
    timings.bare_define.append(define_s)
    timings.bare_start.append(start_s)
    return boot_s


async def remove_bare(domain: BareDomain) -> None:
    names = (await _virsh(domain.host, "list", "--all", "--name")).split()
    if domain.name not in names:
        return
    running = (await _virsh(domain.host, "list", "--name")).split()
    if domain.name in running:
        await _virsh(domain.host, "destroy", domain.name)
    await _virsh(domain.host, "undefine", domain.name)


async def measure(bed: Testbed, image: GuestImage, engine_dir: Path, runs: int) -> Timings:
    timings = Timings()
    host = bed.hosts[0]
    work = bed.shared_dir / "bare"
    work.mkdir()
    async with open_lab(bed, image, engine_dir) as lab:
        await add_hosts(lab)
        storage = await active_data_domain(lab)
        vm, volume = await guest_vm(lab, storage, name="bootbench")
        vm_path = f"/vms/{vm['id']}"
        console = console_log(storage, vm["id"])

        started = time.perf_counter()
        await lab.api.act(vm_path, "start")
        await wait_console(console, [UP_MARKER], timeout=BOOT_S, poll_s=POLL_S)
        timings.first_virtfleet = time.perf_counter() - started
        defined = await _virsh(host, "dumpxml", "--inactive", "bootbench")
        await power_off(lab, vm_path)
        bare = bare_domain(host, defined.encode(), work, volume)

        for index in range(runs):
            timings.virtfleet.append(await virtfleet_run(lab, vm_path, console, timings))
            timings.bare.append(await bare_run(bare, work, timings))
            print(
                f"run {index + 1}/{runs}: virtfleet {timings.virtfleet[-1]:.2f} s, "
                f"bare {timings.bare[-1]:.2f} s",
                file=sys.stderr,
            )
    return timings


def _median(samples: list[float]) -> float:
    return round(statistics.median(samples), 3)


def figures_of(timings: Timings, load: tuple[float, float]) -> dict[str, Any]:
    virtfleet, bare = statistics.median(timings.virtfleet), statistics.median(timings.bare)
    return {
        "runs": len(timings.virtfleet),
        "ratio_median": round(virtfleet / bare, 3),
        "virtfleet_median_s": _median(timings.virtfleet),
        "bare_median_s": _median(timings.bare),
        "overhead_median_s": round(virtfleet - bare, 3),
        "virtfleet_api_return_median_s": _median(timings.virtfleet_api),
        "virtfleet_job_done_median_s": _median(timings.virtfleet_job),
        "bare_define_median_s": _median(timings.bare_define),
        "bare_start_return_median_s": _median(timings.bare_start),
        "virtfleet_job_steps_median_s": {
            name: _median([spent[name] for spent in timings.virtfleet_steps if name in spent])
            for name in (timings.virtfleet_steps[0] if timings.virtfleet_steps else {})
        },
        "virtfleet_first_start_s": round(timings.first_virtfleet, 3),
        "virtfleet_s": [round(s, 3) for s in timings.virtfleet],
        "bare_s": [round(s, 3) for s in timings.bare],
        "load_1min_before": round(load[0], 2),
        "load_1min_after": round(load[1], 2),
    }


def _stop_on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(143)  # unwinds through every cleanup block, unlike the default action


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="3 runs of each instead of 10")
    parser.add_argument("--runs", type=int, help="override the number of runs")
    args = parser.parse_args()
    missing = missing_requirements()
    if missing:
        print(missing, file=sys.stderr)
        sys.exit(2)
    runs = args.runs or (3 if args.quick else 10)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    base = Path(tempfile.mkdtemp(prefix="vf-bench-boot-"))
    load_before = os.getloadavg()[0]
    try:
        image = build_guest_image(base / "image")
        with Testbed.up(base / "bed", 1, prefix=PREFIX, subnet=SUBNET) as bed:
            timings = asyncio.run(measure(bed, image, base / "engine", runs))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    figures = figures_of(timings, (load_before, os.getloadavg()[0]))
    ratio = figures["ratio_median"]
    report(
        "boot_overhead",
        f"boot_overhead: API start to guest marker {figures['virtfleet_median_s']} s vs "
        f"virsh define+start {figures['bare_median_s']} s, median of {runs}: ratio {ratio} "
        f"(target <= {TARGET_RATIO})",
        figures,
        {"ratio_median": f"<= {TARGET_RATIO}"},
        ratio <= TARGET_RATIO,
    )


if __name__ == "__main__":
    main()
