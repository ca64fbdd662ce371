"""Figures of the machine the agent runs on, measured from /proc each time they are asked for.

The hypervisor driver adds them to its own (memory and VMs as libvirt sees them). A figure the
machine does not offer (no swap line, no ksmd) is left out, never filled with a guess.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from virtfleet.agent import procfs
from virtfleet.agent.hostnics import HostNics
from virtfleet.common.protocol import HostNicReport

_KSMD_SEARCH_S = 300.0
"""A machine without ksmd is searched again only this often (the search reads every process)."""


class NicSource(Protocol):
    def sample(self) -> list[HostNicReport]: ...


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


class KsmCpuSampler:
    """The CPU share (percent of one CPU) that the kernel's page-merging thread ksmd used."""

    def __init__(self, proc: Path, clock: Callable[[], float], ticks_per_s: float) -> None:
        self._proc = proc
        self._clock = clock
        self._ticks_per_s = ticks_per_s
        self._pid: int | None = None
        self._searched_at: float | None = None
        self._previous: tuple[float, int] | None = None

    def sample(self) -> float | None:
        ticks = self._ticks()
        now = self._clock()
        previous, self._previous = self._previous, None if ticks is None else (now, ticks)
        if ticks is None or previous is None or now <= previous[0] or ticks < previous[1]:
            return None
        return round(100.0 * (ticks - previous[1]) / self._ticks_per_s / (now - previous[0]), 2)

    def _ticks(self) -> int | None:
        if self._pid is None:
            now = self._clock()
            if self._searched_at is not None and now - self._searched_at < _KSMD_SEARCH_S:
                return None
            self._searched_at = now
            self._pid = self._find_ksmd()
        if self._pid is None:
            return None
        text = _read(self._proc / str(self._pid) / "stat")
        if text is None or "(ksmd)" not in text:
            self._pid = None
            return None
        return procfs.parse_process_cpu_ticks(text)

    def _find_ksmd(self) -> int | None:
        for comm in self._proc.glob("[0-9]*/comm"):
            if _read(comm) == "ksmd\n":
                return int(comm.parent.name)
        return None


class MachineProbe:
    """This machine's load, CPU ticks, memory and swap, KSM, boot time and NICs."""

    def __init__(
        self,
        proc: Path = Path("/proc"),
        nics: NicSource | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._proc = proc
        self._nics: NicSource = nics or HostNics(clock=clock)
        self._lock = threading.Lock()
        self._ksm = KsmCpuSampler(proc, clock, float(os.sysconf("SC_CLK_TCK")))

    def cpu_ticks(self) -> dict[str, int] | None:
        """The machine's CPU counters since boot, named as libvirt's ``getCPUStats`` names them."""
        text = _read(self._proc / "stat")
        return None if text is None else procfs.parse_cpu_ticks(text)

    def figures(self, *, memory: bool) -> dict[str, Any]:
        """``HostStats`` fields measured here; ``memory`` adds the meminfo figures (left out
        where the host's memory is not this machine's, as on simulated hosts)."""
        found: dict[str, Any] = {}
        load = procfs.parse_loadavg(_read(self._proc / "loadavg") or "")
        if load is not None:
            found.update(load_avg_1m=load.one, load_avg_5m=load.five, load_avg_15m=load.fifteen)
        found["boot_time"] = procfs.parse_boot_time(_read(self._proc / "stat") or "")
        if memory:
            info = procfs.parse_meminfo(_read(self._proc / "meminfo") or "")
            found.update(
                memory_shared_bytes=info.get("Shmem"),
                memory_buffers_bytes=info.get("Buffers"),
                memory_cached_bytes=info.get("Cached"),
                swap_total_bytes=info.get("SwapTotal"),
                swap_free_bytes=info.get("SwapFree"),
                swap_cached_bytes=info.get("SwapCached"),
            )
        with self._lock:
            found["ksm_cpu_pct"] = self._ksm.sample()
        found["nics"] = self._nics.sample()
        return found
