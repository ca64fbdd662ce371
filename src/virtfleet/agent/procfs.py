"""Parsers of the kernel's /proc and /sys text files the host statistics come from.

Each parser takes the file's text and returns only what it could read: a malformed or missing
line gives no figure rather than a made-up one.
"""

from __future__ import annotations

from dataclasses import dataclass

_KIB = 1024
# /proc/stat's cpu line, in the kernel's order (Documentation/filesystems/proc.rst).
_CPU_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


def is_count(word: str) -> bool:
    """Whether ``word`` is a plain decimal count (``str.isdigit`` also takes ``²`` and ``٣``)."""
    return word.isascii() and word.isdigit()


@dataclass(frozen=True)
class LoadAverage:
    one: float
    five: float
    fifteen: float


def parse_loadavg(text: str) -> LoadAverage | None:
    """``/proc/loadavg``: the run-queue averages over 1, 5 and 15 minutes."""
    words = text.split()
    try:
        values = [float(word) for word in words[:3]]
    except ValueError:
        return None
    if len(values) < 3 or any(not 0 <= v < float("inf") for v in values):
        return None
    return LoadAverage(*values)


def parse_cpu_ticks(text: str) -> dict[str, int] | None:
    """The aggregate ``cpu`` line of ``/proc/stat`` as libvirt names its counters
    (``user``, ``kernel``, ``idle``, ``iowait``), so one sampler splits both."""
    for line in text.splitlines():
        words = line.split()
        if not words or words[0] != "cpu":
            continue
        try:
            ticks = dict(zip(_CPU_FIELDS, (int(w) for w in words[1:]), strict=False))
        except ValueError:
            return None
        if len(ticks) < 4 or any(v < 0 for v in ticks.values()):
            return None
        return {
            "user": ticks["user"] + ticks["nice"],
            "kernel": ticks["system"] + ticks.get("irq", 0) + ticks.get("softirq", 0),
            "idle": ticks["idle"],
            "iowait": ticks.get("iowait", 0),
        }
    return None


def parse_boot_time(text: str) -> int | None:
    """The ``btime`` line of ``/proc/stat``: when the machine booted, in epoch seconds."""
    for line in text.splitlines():
        words = line.split()
        if len(words) == 2 and words[0] == "btime" and is_count(words[1]):
            return int(words[1])
    return None


def parse_meminfo(text: str) -> dict[str, int]:
    """``/proc/meminfo`` in bytes, by its own names (``MemTotal``, ``SwapFree``...)."""
    found: dict[str, int] = {}
    for line in text.splitlines():
        name, sep, rest = line.partition(":")
        words = rest.split()
        if not sep or not words or not is_count(words[0]):
            continue
        scale = _KIB if words[1:] == ["kB"] else 1 if len(words) == 1 else 0
        if scale:
            found[name.strip()] = int(words[0]) * scale
    return found


def parse_process_cpu_ticks(text: str) -> int | None:
    """User plus system clock ticks of one process, from its ``/proc/<pid>/stat``."""
    # The command name (field 2) is in parentheses and may hold spaces: split after it.
    _, sep, rest = text.rpartition(")")
    words = rest.split()
    if not sep or len(words) < 13 or not (is_count(words[11]) and is_count(words[12])):
        return None
    return int(words[11]) + int(words[12])
