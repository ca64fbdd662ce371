"""The hypervisor driver on libvirt: real QEMU/KVM hosts, or simulated ones on ``test:///``."""

from __future__ import annotations

import logging
import tempfile
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import libvirt

from virtfleet.agent.hostprobe import MachineProbe
from virtfleet.agent.hypervisor.base import (
    ConsoleOutput,
    HypervisorDriver,
    SerialConsole,
    VmStateCallback,
)
from virtfleet.agent.hypervisor.seediso import SeedStore
from virtfleet.common.cputypes import CLUSTER_CPU_TYPES, cluster_cpu_type
from virtfleet.common.errors import AgentError, Conflict, InvalidInput, NotFound
from virtfleet.common.protocol import (
    PROTOCOL_VERSION,
    DiskSpec,
    DisplayEndpoint,
    DisplayTicket,
    HostCapabilities,
    HostStats,
    Hypervisor,
    NicSpec,
    VmRunState,
    VmSpec,
    VmState,
    VmStats,
)

from . import consoles, hotplug
from .connection import libvirt_errors
from .domainxml import build_domain
from .firmware import check_installed, uefi_files
from .guestagent import GuestAgentPoller, shutdown_through_agent
from .hostcheck import GuestSupport, can_run, guest_support
from .nicfallback import host_bridges, local_nic, with_local_networks
from .reconnect import ReconnectingConnection, VmStateTracker
from .states import domain_run_state, event_run_state
from .stats import (
    CpuSplit,
    DomainCpuSampler,
    HostCpuSampler,
    IoTotals,
    guest_memory_used,
    io_totals,
    memory_free_from_stats,
)

log = logging.getLogger(__name__)

_KIB = 1024
_MIB = 1024 * 1024
_SHUTDOWN_POLL_S = 0.05
_AGENT_SHUTDOWN_GRACE_S = 10.0
"""How long a guest has to react to the ACPI power button before its guest agent is asked."""


def is_test_uri(uri: str) -> bool:
    """Whether ``uri`` names libvirt's built-in test driver."""
    return urlsplit(uri).scheme == "test"


def default_domain_type(uri: str) -> str:
    """'test' for the test driver; 'qemu' (TCG) otherwise until a KVM probe says better."""
    return "test" if is_test_uri(uri) else "qemu"


def _libvirt_version(number: int) -> str:
    return f"{number // 1_000_000}.{number // 1000 % 1000}.{number % 1000}"


def _agent_version() -> str:
    try:
        return metadata.version("virtfleet")
    except metadata.PackageNotFoundError:
        return "unknown"


def _require_uuid(vm_id: str) -> None:
    try:
        uuid.UUID(vm_id)
    except ValueError:
        raise InvalidInput(f"VM id {vm_id!r} is not a UUID") from None


class LibvirtDriver(HypervisorDriver):
    """One connection to one libvirt URI; every method may be called from several threads."""

    def __init__(
        self,
        uri: str,
        *,
        host_uuid: str | None = None,
        domain_type: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        seed_dir: Path | None = None,
        machine: MachineProbe | None = None,
    ) -> None:
        self._uri = uri
        self._seeds = SeedStore(seed_dir or Path(tempfile.gettempdir()) / "virtfleet-seeds")
        self._machine = machine or MachineProbe(clock=clock)
        self._host_uuid = host_uuid
        self._domain_type = domain_type or default_domain_type(uri)
        self._clock = clock
        self._link = ReconnectingConnection(
            uri,
            events={libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE: self._on_lifecycle},
            on_reopen=self._reconcile,
        )
        self._tracker = VmStateTracker()
        self._lock = threading.Lock()
        self._vm_locks: dict[str, threading.Lock] = {}
        self._subscribers: list[VmStateCallback] = []
        self._host_cpu = HostCpuSampler()
        self._vm_cpu = DomainCpuSampler(clock)
        self._simulated_displays = consoles.SimulatedDisplays()
        self._devices: hotplug.Devices = (
            hotplug.SimulatedDevices(self._connection)
            if is_test_uri(uri)
            else hotplug.LiveDevices()
        )
        # libvirt's test driver has no guest agent: simulated guests report nothing of theirs
        self._guests = None if is_test_uri(uri) else GuestAgentPoller(clock=clock)

    @property
    def uri(self) -> str:
        return self._uri

    @property
    def domain_type(self) -> str:
        return self._domain_type

    # --- connection ------------------------------------------------------------------------

    def open(self) -> None:
        """Connect; after a lost connection (libvirtd restarted) it reconnects by itself."""
        self._link.open()
        self._tracker.reset(self.list_vms())

    def close(self) -> None:
        self._link.close()
        if self._guests is not None:
            self._guests.close()

    def _connection(self) -> Any:
        return self._link.connection()

    # --- host ------------------------------------------------------------------------------

    def capabilities(self) -> HostCapabilities:
        conn = self._connection()
        with libvirt_errors("reading host capabilities"):
            info = conn.getInfo()
            caps = ET.fromstring(conn.getCapabilities())
            hostname = conn.getHostname()
            lib_version = conn.getLibVersion()
        host_uuid = self._host_uuid or caps.findtext("host/uuid")
        if not host_uuid:
            raise AgentError(f"libvirt at {self._uri} reports no host UUID; configure one")
        model, memory_mib, _cpus, _mhz, nodes, sockets, cores, threads = info
        support = self._guest_support(conn)
        return HostCapabilities(
            protocol_version=PROTOCOL_VERSION,
            host_uuid=host_uuid,
            hostname=hostname,
            hypervisor=self._hypervisor(),
            driver_uri=self._uri,
            cpu_model=caps.findtext("host/cpu/model") or model,
            cpu_sockets=nodes * sockets,
            cpu_cores=cores,
            cpu_threads=threads,
            memory_bytes=memory_mib * _MIB,
            libvirt_version=_libvirt_version(lib_version),
            agent_version=_agent_version(),
            cluster_cpu_types=support.cluster_cpu_types,
            uefi=support.uefi,
            secure_boot=support.secure_boot,
            tpm=support.tpm,
        )

    def _guest_support(self, conn: Any) -> GuestSupport:
        """Simulated hosts run every CPU type and firmware; real ones say what QEMU can do."""
        if is_test_uri(self._uri):
            return GuestSupport(list(CLUSTER_CPU_TYPES), uefi=True, secure_boot=True, tpm=True)
        return guest_support(conn, self._guest_arch(), self._domain_type)

    def _hypervisor(self) -> Hypervisor:
        if is_test_uri(self._uri):
            return Hypervisor.TEST
        return Hypervisor.KVM if self._domain_type == "kvm" else Hypervisor.TCG

    def host_stats(self) -> HostStats:
        """libvirt's memory and VM figures plus what the agent measures on its own machine.

        A simulated host lives on the agent's machine: its load, CPU, boot time and NICs are that
        machine's, its memory the test driver's node (what the scheduler places against)."""
        conn = self._connection()
        simulated = is_test_uri(self._uri)
        with libvirt_errors("reading host statistics"):
            memory_total = conn.getInfo()[1] * _MIB
            domains = conn.listAllDomains(0)
            running = [dom for dom in domains if dom.isActive()]
            cpu = self._host_cpu_split(conn)
            memory_free = self._host_memory_free(conn, memory_total, running)
        split = {}
        if cpu is not None:
            split = dict(
                cpu_user_pct=cpu.user_pct, cpu_system_pct=cpu.system_pct, cpu_idle_pct=cpu.idle_pct
            )
        return HostStats(
            memory_total_bytes=memory_total,
            memory_free_bytes=memory_free,
            vms_total=len(domains),
            vms_running=len(running),
            **split,
            **self._machine.figures(memory=not simulated),
        )

    def _host_cpu_split(self, conn: Any) -> CpuSplit | None:
        """libvirt's host CPU counters, or this machine's /proc/stat where libvirt has none or
        (the test driver) only canned ones."""
        if is_test_uri(self._uri):
            return self._split(self._machine.cpu_ticks())
        try:
            counters = conn.getCPUStats(libvirt.VIR_NODE_CPU_STATS_ALL_CPUS, 0)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() != libvirt.VIR_ERR_NO_SUPPORT:
                raise
            counters = self._machine.cpu_ticks()
        return self._split(counters)

    def _split(self, counters: dict[str, int] | None) -> CpuSplit | None:
        return None if counters is None else self._host_cpu.sample(counters)

    def _host_memory_free(self, conn: Any, total: int, running: list[Any]) -> int:
        try:
            return memory_free_from_stats(
                conn.getMemoryStats(libvirt.VIR_NODE_MEMORY_STATS_ALL_CELLS, 0)
            )
        except libvirt.libvirtError as exc:
            if exc.get_error_code() != libvirt.VIR_ERR_NO_SUPPORT:
                raise
        # The test driver keeps no memory accounting: what its running guests hold is used.
        used = sum(int(dom.info()[2]) * _KIB for dom in running)
        return max(0, total - used)

    # --- VM lifecycle ----------------------------------------------------------------------

    def create_vm(self, spec: VmSpec) -> VmState:
        _require_uuid(spec.id)
        if not is_test_uri(self._uri):
            spec = with_local_networks(spec, host_bridges())
        arch = self._guest_arch()
        seed = None if spec.cloud_init is None else self._seeds.path(spec.id)
        xml = build_domain(spec, self._domain_type, arch, seed_iso=seed).to_xml()
        conn = self._connection()
        if not is_test_uri(self._uri):
            self._check_host_runs(conn, spec, arch)
            if spec.serial_log_path:
                # QEMU creates the log file but not its directory (consoles/ on shared storage)
                Path(spec.serial_log_path).parent.mkdir(parents=True, exist_ok=True)
        with self._vm_lock(spec.id), libvirt_errors(f"starting VM {spec.id}"):
            existing = self._find(spec.id)
            if existing is not None and existing.isActive():
                raise Conflict(f"VM {spec.id} is already running on this host")
            namesake = self._find_by_name(spec.name)
            if namesake is not None and namesake.UUIDString() != spec.id:
                raise Conflict(f"another VM named {spec.name!r} exists on this host")
            if existing is not None and existing.name() != spec.name:
                self._undefine(existing)
                existing = None
            if spec.cloud_init is not None:
                self._seeds.write(spec.id, spec.cloud_init)
            dom = conn.defineXML(xml)
            try:
                self._start(dom, paused=spec.start_paused)
            except libvirt.libvirtError:
                if existing is None:
                    self._undefine(dom)
                else:
                    self._seeds.remove(spec.id)
                raise
            log.info("VM started vm_id=%s name=%s", spec.id, spec.name)
            return self._state(dom)

    def _start(self, dom: Any, *, paused: bool) -> None:
        """Start the domain, with its vCPUs stopped when ``paused`` (the test driver takes no
        start flags: it is paused right after)."""
        if not paused:
            dom.create()
        elif is_test_uri(self._uri):
            dom.create()
            dom.suspend()
        else:
            dom.createWithFlags(libvirt.VIR_DOMAIN_START_PAUSED)

    def destroy_vm(self, vm_id: str) -> VmState:
        with self._vm_lock(vm_id), libvirt_errors(f"destroying VM {vm_id}"):
            dom = self._lookup(vm_id)
            if dom.isActive():
                dom.destroy()
            self._undefine(dom)
        log.info("VM destroyed vm_id=%s", vm_id)
        return VmState(vm_id=vm_id, state=VmRunState.DOWN, reason="destroyed")

    def shutdown_vm(self, vm_id: str, timeout_s: float) -> VmState:
        """Ask the guest (ACPI power button) to power off, and its guest agent too when the
        guest has not reacted after a grace; a guest that ignores both keeps running and the
        answer says so (SHUTTING_DOWN), as oVirt reports a failed shutdown."""
        with self._vm_lock(vm_id), libvirt_errors(f"shutting down VM {vm_id}"):
            dom = self._lookup(vm_id)
            self._require(dom, vm_id, "shut down", VmRunState.RUNNING)
            dom.shutdown()
        # The wait holds no VM lock, so a power-off may overtake a guest that ignores the request.
        start = self._clock()
        deadline = start + timeout_s
        agent_at = (
            None if is_test_uri(self._uri) else start + min(_AGENT_SHUTDOWN_GRACE_S, timeout_s / 2)
        )
        with libvirt_errors(f"waiting for VM {vm_id} to shut down"):
            while self._find(vm_id) is not None and dom.isActive():
                now = self._clock()
                if agent_at is not None and now >= agent_at:
                    agent_at = None
                    if shutdown_through_agent(dom):
                        log.info("VM asked to shut down through its guest agent vm_id=%s", vm_id)
                if now >= deadline:
                    log.warning("VM ignored the shutdown request vm_id=%s", vm_id)
                    return VmState(
                        vm_id=vm_id,
                        state=VmRunState.SHUTTING_DOWN,
                        reason=f"the guest did not power off within {timeout_s:g} s of the "
                        "ACPI (and guest agent) shutdown request and is still running",
                    )
                time.sleep(_SHUTDOWN_POLL_S)
        with self._vm_lock(vm_id), libvirt_errors(f"shutting down VM {vm_id}"):
            dom = self._find(vm_id)
            if dom is not None and not dom.isActive():
                self._undefine(dom)
        log.info("VM shut down vm_id=%s", vm_id)
        return VmState(vm_id=vm_id, state=VmRunState.DOWN, reason="shutdown")

    def reboot_vm(self, vm_id: str) -> VmState:
        with self._vm_lock(vm_id), libvirt_errors(f"rebooting VM {vm_id}"):
            dom = self._lookup(vm_id)
            self._require(dom, vm_id, "reboot", VmRunState.RUNNING)
            dom.reboot(0)
            return self._state(dom)

    def pause_vm(self, vm_id: str) -> VmState:
        with self._vm_lock(vm_id), libvirt_errors(f"pausing VM {vm_id}"):
            dom = self._lookup(vm_id)
            self._require(dom, vm_id, "pause", VmRunState.RUNNING)
            dom.suspend()
            return self._state(dom)

    def resume_vm(self, vm_id: str) -> VmState:
        with self._vm_lock(vm_id), libvirt_errors(f"resuming VM {vm_id}"):
            dom = self._lookup(vm_id)
            self._require(dom, vm_id, "resume", VmRunState.PAUSED)
            dom.resume()
            return self._state(dom)

    def suspend_vm(self, vm_id: str) -> VmState:
        with self._vm_lock(vm_id), libvirt_errors(f"suspending VM {vm_id}"):
            dom = self._lookup(vm_id)
            self._require(dom, vm_id, "suspend", VmRunState.RUNNING, VmRunState.PAUSED)
            dom.managedSave(0)
            return self._state(dom)

    # --- inventory and statistics ----------------------------------------------------------

    def list_vms(self) -> list[VmState]:
        conn = self._connection()
        states = []
        with libvirt_errors("listing VMs"):
            for dom in conn.listAllDomains(0):
                try:
                    states.append(self._state(dom))
                except libvirt.libvirtError as exc:
                    if exc.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
                        raise
        return states

    def vm_stats(self) -> list[VmStats]:
        conn = self._connection()
        with libvirt_errors("reading VM statistics"):
            domains = conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE)
            io = self._io_totals(conn)
            stats = [self._one_vm_stats(dom, io) for dom in domains]
        self._vm_cpu.forget_except({s.vm_id for s in stats})
        if self._guests is not None:
            self._guests.forget_except({s.vm_id for s in stats})
        return stats

    def _one_vm_stats(self, dom: Any, io: dict[str, IoTotals]) -> VmStats:
        vm_id = dom.UUIDString()
        _state, _max_kib, current_kib, vcpus, cpu_time = dom.info()
        try:
            memory_stats = dom.memoryStats()
        except libvirt.libvirtError:
            memory_stats = {}
        totals = io.get(vm_id, IoTotals())
        return VmStats(
            vm_id=vm_id,
            cpu_pct=self._vm_cpu.sample(vm_id, cpu_time, vcpus),
            memory_used_bytes=guest_memory_used(memory_stats, current_kib),
            disk_read_bytes=totals.disk_read_bytes,
            disk_write_bytes=totals.disk_write_bytes,
            net_rx_bytes=totals.net_rx_bytes,
            net_tx_bytes=totals.net_tx_bytes,
            guest=None if self._guests is None else self._guests.report(dom),
        )

    def _io_totals(self, conn: Any) -> dict[str, IoTotals]:
        groups = libvirt.VIR_DOMAIN_STATS_BLOCK | libvirt.VIR_DOMAIN_STATS_INTERFACE
        try:
            records = conn.getAllDomainStats(
                groups, libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE
            )
        except libvirt.libvirtError as exc:
            log.debug("bulk domain statistics unavailable uri=%s: %s", self._uri, exc)
            return {}
        return {dom.UUIDString(): io_totals(record) for dom, record in records}

    # --- events ----------------------------------------------------------------------------

    def subscribe(self, callback: VmStateCallback) -> None:
        with self._lock:
            self._subscribers.append(callback)

    def _on_lifecycle(self, _conn: Any, dom: Any, event: int, detail: int, _opaque: Any) -> None:
        mapped = event_run_state(event, detail)
        if mapped is None:
            return
        state = VmState(vm_id=dom.UUIDString(), state=mapped[0], reason=mapped[1])
        if state.state in (VmRunState.DOWN, VmRunState.CRASHED):
            self._seeds.remove(state.vm_id)  # the run it was for is over
        log.debug("VM lifecycle event vm_id=%s state=%s", state.vm_id, state.state)
        self._publish(state)

    def _reconcile(self) -> None:
        """After a reconnect, report every VM whose state changed while libvirt was away."""
        for state in self._tracker.changes(self.list_vms()):
            log.info("VM state changed while away vm_id=%s state=%s", state.vm_id, state.state)
            self._publish(state)

    def _publish(self, state: VmState) -> None:
        self._tracker.seen(state)
        with self._lock:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(state)
            except Exception:
                log.exception("VM state subscriber failed vm_id=%s", state.vm_id)

    # --- consoles --------------------------------------------------------------------------

    def set_display_ticket(self, ticket: DisplayTicket) -> DisplayEndpoint:
        dom = self._lookup(ticket.vm_id)
        if is_test_uri(self._uri):
            return self._simulated_displays.set_ticket(dom, ticket)
        return consoles.set_ticket(dom, ticket)

    def display_ticket(self, vm_id: str, protocol: str = "vnc") -> DisplayTicket | None:
        """The last ticket of a simulated VM's display (the test driver keeps no password)."""
        return self._simulated_displays.ticket(vm_id, protocol)

    def domain_xml(self, vm_id: str) -> str:
        """The VM's domain as libvirt holds it (what ``virsh dumpxml`` shows), for diagnosis."""
        return str(self._lookup(vm_id).XMLDesc(0))

    def display_endpoint(self, vm_id: str, protocol: str) -> DisplayEndpoint:
        return consoles.display_endpoint(self._lookup(vm_id), vm_id, protocol)

    # --- hot-plug --------------------------------------------------------------------------

    def plug_nic(self, vm_id: str, nic: NicSpec) -> str:
        if not is_test_uri(self._uri):
            nic = local_nic(nic, host_bridges(), vm_id)
        with self._vm_lock(vm_id), libvirt_errors(f"plugging a vNIC into VM {vm_id}"):
            return hotplug.plug_nic(self._devices, self._lookup(vm_id), vm_id, nic)

    def unplug_nic(self, vm_id: str, mac: str) -> None:
        with self._vm_lock(vm_id), libvirt_errors(f"unplugging a vNIC of VM {vm_id}"):
            hotplug.unplug_nic(self._devices, self._lookup(vm_id), vm_id, mac)

    def plug_disk(self, vm_id: str, disk: DiskSpec) -> str:
        with self._vm_lock(vm_id), libvirt_errors(f"plugging a disk into VM {vm_id}"):
            return hotplug.plug_disk(self._devices, self._lookup(vm_id), vm_id, disk)

    def unplug_disk(self, vm_id: str, path: str) -> None:
        with self._vm_lock(vm_id), libvirt_errors(f"unplugging a disk of VM {vm_id}"):
            hotplug.unplug_disk(self._devices, self._lookup(vm_id), vm_id, path)

    def definition_xml(self, vm_id: str) -> str:
        """The VM's persistent definition (where a simulated host's hot-plugs go)."""
        return str(self._lookup(vm_id).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))

    def open_serial_console(self, vm_id: str, on_output: ConsoleOutput) -> SerialConsole:
        dom = self._lookup(vm_id)
        return consoles.LibvirtSerialConsole(self._connection(), dom, vm_id, on_output)

    # --- helpers ---------------------------------------------------------------------------

    def _check_host_runs(self, conn: Any, spec: VmSpec, arch: str) -> None:
        """Refuse a VM this host cannot run before libvirt half-starts it."""
        if spec.cpu_mode == "host-passthrough" and self._domain_type != "kvm":
            raise Conflict(
                "cpu.mode host_passthrough needs KVM: this host runs guests on QEMU TCG, which "
                "emulates a CPU model and cannot hand the host's CPU through"
            )
        if spec.firmware == "uefi":
            check_installed(uefi_files(secure_boot=spec.secure_boot))
        if spec.cpu_type is not None:
            wanted = cluster_cpu_type(spec.cpu_type)
            with libvirt_errors("comparing CPU models"):
                runs = can_run(conn, wanted, arch, self._domain_type)
            if not runs:
                raise Conflict(f"this host's CPU cannot run cluster CPU type {wanted.name!r}")

    def _undefine(self, dom: Any) -> None:
        """Undefine with its saved state; the UEFI variables go too (the test driver has none)."""
        flags = libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
        if not is_test_uri(self._uri):
            flags |= libvirt.VIR_DOMAIN_UNDEFINE_NVRAM
        dom.undefineFlags(flags)
        self._seeds.remove(dom.UUIDString())

    @contextmanager
    def _vm_lock(self, vm_id: str) -> Iterator[None]:
        """Serialise lifecycle operations on one VM; others proceed in parallel."""
        with self._lock:
            lock = self._vm_locks.setdefault(vm_id, threading.Lock())
        with lock:
            yield

    def _guest_arch(self) -> str:
        if is_test_uri(self._uri):
            return "x86_64"
        with libvirt_errors("reading host capabilities"):
            caps = ET.fromstring(self._connection().getCapabilities())
        return caps.findtext("host/cpu/arch") or "x86_64"

    def _find(self, vm_id: str) -> Any:
        try:
            return self._connection().lookupByUUIDString(vm_id)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return None
            raise

    def _find_by_name(self, name: str) -> Any:
        try:
            return self._connection().lookupByName(name)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return None
            raise

    def _lookup(self, vm_id: str) -> Any:
        try:
            uuid.UUID(vm_id)
        except ValueError:
            raise NotFound(f"no VM {vm_id!r} on this host") from None
        dom = self._find(vm_id)
        if dom is None:
            raise NotFound(f"no VM {vm_id} on this host")
        return dom

    def _state(self, dom: Any) -> VmState:
        state, reason = dom.state()
        saved = state == libvirt.VIR_DOMAIN_SHUTOFF and bool(dom.hasManagedSaveImage(0))
        run_state, text = domain_run_state(state, reason, saved)
        return VmState(vm_id=dom.UUIDString(), state=run_state, reason=text)

    def _require(self, dom: Any, vm_id: str, action: str, *allowed: VmRunState) -> None:
        current = self._state(dom).state
        if current not in allowed:
            raise Conflict(f"cannot {action} VM {vm_id}: it is {current.value}")
