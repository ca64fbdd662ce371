"""The interface every hypervisor driver implements; the agent server speaks only to this.

Methods are synchronous and may block (the server runs them in worker threads). Errors are the
domain errors of ``virtfleet.common.errors``: ``NotFound`` for an unknown VM, ``Conflict`` for
an operation the VM's state does not allow, ``AgentError`` for hypervisor failures.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

from virtfleet.common.protocol import (
    DiskSpec,
    DisplayEndpoint,
    DisplayTicket,
    HostCapabilities,
    HostStats,
    NicSpec,
    VmSpec,
    VmState,
    VmStats,
)

VmStateCallback = Callable[[VmState], None]
ConsoleOutput = Callable[[bytes], None]
"""Receives a serial console's output from another thread; an empty chunk means it closed."""


class SerialConsole(ABC):
    """An open serial console of a running VM; output goes to the ``ConsoleOutput`` given."""

    @abstractmethod
    def write(self, data: bytes) -> None:
        """Send ``data`` to the guest's serial port (blocking until the hypervisor takes it)."""

    @abstractmethod
    def close(self) -> None:
        """Release the console; no more output is delivered. Closing twice is harmless."""


class HypervisorDriver(ABC):
    """One host's hypervisor: VM lifecycle, host facts and statistics, lifecycle events."""

    @abstractmethod
    def open(self) -> None:
        """Connect to the hypervisor; must be called before any other method."""

    @abstractmethod
    def close(self) -> None:
        """Disconnect; subscribers receive no more events."""

    @abstractmethod
    def capabilities(self) -> HostCapabilities:
        """What this host is: identity, hypervisor kind, CPU topology and memory."""

    @abstractmethod
    def host_stats(self) -> HostStats:
        """Current host usage: CPU split, memory, VM counts, load."""

    @abstractmethod
    def create_vm(self, spec: VmSpec) -> VmState:
        """Define and start a VM; a suspended VM is restored. Conflict if it already runs."""

    @abstractmethod
    def destroy_vm(self, vm_id: str) -> VmState:
        """Power the VM off at once (if it runs) and forget it on this host."""

    @abstractmethod
    def shutdown_vm(self, vm_id: str, timeout_s: float) -> VmState:
        """Ask the guest to shut down and wait up to ``timeout_s`` for it to stop."""

    @abstractmethod
    def reboot_vm(self, vm_id: str) -> VmState:
        """Ask the guest to reboot."""

    @abstractmethod
    def pause_vm(self, vm_id: str) -> VmState:
        """Stop the VM's vCPUs, keeping it in memory."""

    @abstractmethod
    def resume_vm(self, vm_id: str) -> VmState:
        """Restart the vCPUs of a paused VM."""

    @abstractmethod
    def suspend_vm(self, vm_id: str) -> VmState:
        """Save the VM's memory to disk and stop it; ``create_vm`` restores it."""

    @abstractmethod
    def list_vms(self) -> list[VmState]:
        """Every VM this host knows, running or not."""

    @abstractmethod
    def vm_stats(self) -> list[VmStats]:
        """Usage of every running VM."""

    @abstractmethod
    def subscribe(self, callback: VmStateCallback) -> None:
        """Call ``callback`` (from another thread) on every VM lifecycle change."""

    @abstractmethod
    def set_display_ticket(self, ticket: DisplayTicket) -> DisplayEndpoint:
        """Give the running VM's display a one-time password; NotFound if it has no such display."""

    @abstractmethod
    def display_endpoint(self, vm_id: str, protocol: str) -> DisplayEndpoint:
        """Where the running VM's display of ``protocol`` listens on this host."""

    @abstractmethod
    def plug_nic(self, vm_id: str, nic: NicSpec) -> str:
        """Plug a vNIC into the running VM (a no-op if it has it); its MAC."""

    @abstractmethod
    def unplug_nic(self, vm_id: str, mac: str) -> None:
        """Take the vNIC out of the running VM once the guest released it (no-op if gone)."""

    @abstractmethod
    def plug_disk(self, vm_id: str, disk: DiskSpec) -> str:
        """Plug a disk into the running VM; the guest-side name it got (``vdb``)."""

    @abstractmethod
    def unplug_disk(self, vm_id: str, path: str) -> None:
        """Take the disk out of the running VM once the guest released it (no-op if gone)."""

    @abstractmethod
    def open_serial_console(self, vm_id: str, on_output: ConsoleOutput) -> SerialConsole:
        """Attach to the running VM's serial console, taking it from any previous client."""
