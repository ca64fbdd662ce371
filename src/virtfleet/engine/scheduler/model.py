"""What placement reasons about: hosts as candidates, the VM asking for one, the cluster's rules.

These are plain values, so that the selection (filters, weights, policies) is pure and can be
tested without a database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

Verdict = Literal[True] | str
"""A filter's answer: True, or the reason the host cannot take the VM."""


class Purpose(StrEnum):
    """Why a host is being chosen: some filters only apply to some of these."""

    START = "start"
    MIGRATE = "migrate"
    HA = "ha"


@dataclass(frozen=True, slots=True)
class HostCandidate:
    """What placement knows of one host: capacity, commitments and the latest reported usage.

    ``committed_memory`` is the memory of every VM placed on the host that is not down (pending
    launches included); ``pending_memory`` is the part of it the host's last stats cannot show yet.
    """

    id: str
    name: str
    memory_total: int
    cpu_threads: int
    status: str = "up"
    committed_memory: int = 0
    pending_memory: int = 0
    running_vms: int = 0
    memory_free: int | None = None
    cpu_usage_pct: float | None = None


@dataclass(frozen=True)
class VmRequest:
    """The VM to place and the constraints that come with it.

    ``pinned_to`` is set when the VM's placement policy pins it (affinity ``pinned`` with hosts);
    ``preferred`` are its placement policy's hosts otherwise; ``exclude`` are hosts it must not
    go to (the one it runs on, for a migration).
    """

    id: str
    name: str
    memory: int
    vcpus: int
    purpose: Purpose = Purpose.START
    pinned_to: frozenset[str] = frozenset()
    preferred: frozenset[str] = frozenset()
    exclude: frozenset[str] = frozenset()
    highly_available: bool = False


@dataclass(frozen=True)
class PlacementContext:
    """Cluster-wide rules: the memory over-commit percent and the policy's properties."""

    over_commit_percent: int = 100
    properties: Mapping[str, str] = field(default_factory=dict)

    def number(self, name: str, default: float) -> float:
        """A numeric policy property (``HighUtilization``), or ``default`` when unset."""
        try:
            return float(self.properties[name])
        except (KeyError, ValueError):
            return default
