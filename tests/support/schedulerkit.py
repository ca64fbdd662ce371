"""Hosts and VMs for the scheduler's unit tests, and hypothesis strategies producing them."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from virtfleet.engine.scheduler.model import HostCandidate, PlacementContext, VmRequest
from virtfleet.engine.scheduler.policies import POLICIES

GiB = 1024**3


def host(name: str, **fields: Any) -> HostCandidate:
    values: dict[str, Any] = {"memory_total": 16 * GiB, "cpu_threads": 8} | fields
    return HostCandidate(id=name, name=name, **values)


VM = VmRequest(id="vm", name="vm1", memory=2 * GiB, vcpus=2)

hosts_strategy = st.lists(
    st.builds(
        HostCandidate,
        id=st.uuids().map(str),
        name=st.text("abcdefgh", min_size=1, max_size=6),
        memory_total=st.integers(0, 64).map(lambda n: n * GiB),
        cpu_threads=st.integers(0, 16),
        status=st.sampled_from(["up", "up", "up", "maintenance", "non_responsive"]),
        committed_memory=st.integers(0, 80).map(lambda n: n * GiB),
        pending_memory=st.integers(0, 8).map(lambda n: n * GiB),
        running_vms=st.integers(0, 30),
        memory_free=st.one_of(st.none(), st.integers(0, 64).map(lambda n: n * GiB)),
        cpu_usage_pct=st.one_of(st.none(), st.floats(0, 100)),
    ),
    max_size=8,
    unique_by=lambda h: h.name,
)
vm_strategy = st.builds(
    VmRequest,
    id=st.just("vm"),
    name=st.just("vm1"),
    memory=st.integers(1, 32).map(lambda n: n * GiB // 2),
    vcpus=st.integers(1, 24),
    highly_available=st.booleans(),
)
context_strategy = st.builds(PlacementContext, over_commit_percent=st.sampled_from([100, 150, 200]))
policy_strategy = st.sampled_from(POLICIES)
