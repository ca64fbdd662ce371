"""A stand-in for the VM state tracker that host monitoring reports to."""

from __future__ import annotations

from virtfleet.common.protocol import VmState, VmStats


class RecordingSink:
    """Keeps the hosts reported lost; ignores what hosts say about their VMs."""

    def __init__(self) -> None:
        self.lost: list[str] = []

    async def on_vm_state(self, host_id: str, state: VmState) -> None:
        return None

    async def on_vm_stats(self, host_id: str, stats: list[VmStats]) -> None:
        return None

    async def on_vm_list(self, host_id: str, states: list[VmState]) -> None:
        return None

    async def on_host_lost(self, host_id: str) -> None:
        self.lost.append(host_id)
