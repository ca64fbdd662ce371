"""Where host monitoring hands what agents say about VMs; the VM package implements it."""

from __future__ import annotations

from typing import Protocol

from virtfleet.common.protocol import VmState, VmStats


class VmStateSink(Protocol):
    """Receives VM facts from host monitoring; keeps VM logic out of the monitor."""

    async def on_vm_state(self, host_id: str, state: VmState) -> None: ...

    async def on_vm_stats(self, host_id: str, stats: list[VmStats]) -> None: ...

    async def on_vm_list(self, host_id: str, states: list[VmState]) -> None: ...

    async def on_host_lost(self, host_id: str) -> None: ...
