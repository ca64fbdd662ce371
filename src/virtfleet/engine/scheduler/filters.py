"""Hard constraints of placement: a host that fails one filter never receives the VM.

Each filter is a tiny plugin in the line of Nova's host filters: ``passes`` returns True, or the
reason the host cannot take the VM (shown to the user when no host is left).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal, Protocol

Verdict = Literal[True] | str


@dataclass(frozen=True)
class HostCandidate:
    """What placement knows of one host: capacity, commitments and the latest reported usage.

    ``committed_memory`` is the memory of every VM placed on the host that is not down (pending
    launches included); ``pending_memory`` is the part of it the host's last stats cannot show yet.
    """

    id: str
    name: str
    memory_total: int
    cpu_threads: int
    committed_memory: int = 0
    pending_memory: int = 0
    running_vms: int = 0
    memory_free: int | None = None


@dataclass(frozen=True)
class VmRequest:
    id: str
    name: str
    memory: int
    vcpus: int


@dataclass(frozen=True)
class PlacementContext:
    """Cluster-wide rules: the memory over-commit percent (oVirt's ``memory_policy``)."""

    over_commit_percent: int = 100


class Filter(Protocol):
    name: ClassVar[str]

    def passes(self, host: HostCandidate, vm: VmRequest, context: PlacementContext) -> Verdict: ...


class MemoryFilter:
    """The VM must fit under the cluster's over-commit ceiling and in the host's free memory."""

    name: ClassVar[str] = "Memory"

    def passes(self, host: HostCandidate, vm: VmRequest, context: PlacementContext) -> Verdict:
        ceiling = host.memory_total * context.over_commit_percent // 100
        if host.committed_memory + vm.memory > ceiling:
            return (
                f"host {host.name} has {max(0, ceiling - host.committed_memory)} bytes of "
                f"schedulable memory, the VM needs {vm.memory}"
            )
        if host.memory_free is not None and host.memory_free - host.pending_memory < vm.memory:
            return f"host {host.name} has not enough free memory for {vm.memory} bytes"
        return True


class CpuFilter:
    """A VM may not have more vCPUs than the host has logical CPUs.

    Across VMs, vCPUs are over-committed freely (as oVirt's CPU filter does); only a single VM
    wider than the host is refused, since it could never run well there.
    """

    name: ClassVar[str] = "CPU"

    def passes(self, host: HostCandidate, vm: VmRequest, context: PlacementContext) -> Verdict:
        if vm.vcpus > host.cpu_threads:
            return f"host {host.name} has {host.cpu_threads} CPUs, the VM needs {vm.vcpus}"
        return True
