"""Usage figures from libvirt's raw counters: CPU percentages need two samples, kept here."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

_KIB = 1024


@dataclass(frozen=True)
class CpuSplit:
    user_pct: float
    system_pct: float
    idle_pct: float


class HostCpuSampler:
    """Host CPU split over the interval since the previous sample.

    The first sample, or counters that did not move (libvirt's test driver reports constants),
    give the split since the host booted.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._previous: dict[str, int] = {}

    def sample(self, counters: Mapping[str, int]) -> CpuSplit:
        current = {key: int(value) for key, value in counters.items()}
        with self._lock:
            previous, self._previous = self._previous, current
        delta = {key: value - previous.get(key, 0) for key, value in current.items()}
        if sum(delta.values()) <= 0 or any(value < 0 for value in delta.values()):
            delta = current
        return _split(delta)


def _split(ticks: Mapping[str, int]) -> CpuSplit:
    total = sum(ticks.values())
    if total <= 0:
        return CpuSplit(0.0, 0.0, 100.0)
    user = ticks.get("user", 0)
    system = ticks.get("kernel", 0)
    idle = ticks.get("idle", 0) + ticks.get("iowait", 0)
    return CpuSplit(
        round(100.0 * user / total, 2),
        round(100.0 * system / total, 2),
        round(100.0 * idle / total, 2),
    )


class DomainCpuSampler:
    """Per-VM CPU use: guest CPU time consumed per wall-clock time and vCPU, in percent."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._previous: dict[str, tuple[float, int]] = {}

    def sample(self, vm_id: str, cpu_time_ns: int, vcpus: int) -> float:
        """Percent since this VM's previous sample; 0.0 for the first one."""
        now = self._clock()
        with self._lock:
            previous = self._previous.get(vm_id)
            self._previous[vm_id] = (now, cpu_time_ns)
        if previous is None:
            return 0.0
        elapsed_ns = (now - previous[0]) * 1e9 * max(vcpus, 1)
        used_ns = cpu_time_ns - previous[1]
        if elapsed_ns <= 0 or used_ns < 0:
            return 0.0
        return round(min(100.0, 100.0 * used_ns / elapsed_ns), 2)

    def forget_except(self, vm_ids: set[str]) -> None:
        """Drop samples of VMs that no longer run, so the table does not grow forever."""
        with self._lock:
            for vm_id in set(self._previous) - vm_ids:
                del self._previous[vm_id]


def guest_memory_used(memory_stats: Mapping[str, int], current_kib: int) -> int:
    """Bytes the guest uses: balloon figures when the guest reports them, else its allocation."""
    if "available" in memory_stats and "unused" in memory_stats:
        return (memory_stats["available"] - memory_stats["unused"]) * _KIB
    if "rss" in memory_stats:
        return memory_stats["rss"] * _KIB
    return current_kib * _KIB


@dataclass(frozen=True)
class IoTotals:
    disk_read_bytes: int = 0
    disk_write_bytes: int = 0
    net_rx_bytes: int = 0
    net_tx_bytes: int = 0


def io_totals(record: Mapping[str, object]) -> IoTotals:
    """Sum the per-device counters of one ``getAllDomainStats`` record."""

    def total(prefix: str, suffix: str) -> int:
        return sum(
            value
            for key, value in record.items()
            if isinstance(value, int)
            and key.startswith(prefix)
            and key.endswith(suffix)
            and key.count(".") == 3
        )

    return IoTotals(
        disk_read_bytes=total("block.", ".rd.bytes"),
        disk_write_bytes=total("block.", ".wr.bytes"),
        net_rx_bytes=total("net.", ".rx.bytes"),
        net_tx_bytes=total("net.", ".tx.bytes"),
    )


def memory_free_from_stats(stats: Mapping[str, int]) -> int:
    """Free host memory in bytes from ``getMemoryStats``: free plus reclaimable page cache."""
    kib = stats.get("free", 0) + stats.get("buffers", 0) + stats.get("cached", 0)
    return kib * _KIB
