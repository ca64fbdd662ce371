"""What hangs under a VM: its NICs (with MACs from the engine's pool), statistics, NUMA nodes,
and graphics consoles; and the read-only NICs of templates."""

from __future__ import annotations

import random
import re
import uuid
from collections.abc import Callable, Sequence
from typing import ClassVar, Protocol

from sqlalchemy import ColumnElement, Connection, select

from virtfleet.common import apimodel as m
from virtfleet.common.apimodel.enums import (
    DisplayType,
    GraphicsType,
    NicInterface,
    StatisticKind,
    StatisticUnit,
    ValueType,
    VmStatus,
)
from virtfleet.common.errors import Conflict, InvalidInput, NotFound
from virtfleet.common.protocol import VmStats
from virtfleet.engine.commands.hotplug_commands import require_pluggable
from virtfleet.engine.commands.vmspec import graphics_protocols
from virtfleet.engine.core.statuses import HOLDING_VM_STATUSES
from virtfleet.engine.persistence import cluster_networks, tables
from virtfleet.engine.persistence import repositories as repos
from virtfleet.engine.persistence.database import Database
from virtfleet.engine.services.base import (
    DocumentService,
    ListQuery,
    Options,
    ResourceService,
    Scope,
    one_listed,
)
from virtfleet.engine.services.hotplug import Hotplug
from virtfleet.engine.services.refs import (
    new_id,
    reference,
    require_name,
    resolve,
    resolve_optional,
)
from virtfleet.engine.services.search import SearchFields, text_field

MAC_PREFIX = "56:6f"
_MAC_RE = re.compile(r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$")
_MAC_ATTEMPTS = 64
_STAT_NAMESPACE = uuid.UUID("6f1d3c3e-7a65-4f0e-9a3b-5bde1c0a4d11")


def normalise_mac(address: str) -> str:
    mac = address.strip().lower().replace("-", ":")
    if not _MAC_RE.match(mac):
        raise InvalidInput(f"'{address}' is not a MAC address (like 56:6f:00:00:00:01)")
    if int(mac[:2], 16) & 1:
        raise InvalidInput(f"'{address}' is a multicast MAC address")
    return mac


def mac_in_use(conn: Connection, mac: str) -> bool:
    return repos.nics.count(conn, tables.nics.c.mac == mac) > 0


def allocate_mac(conn: Connection, rng: random.Random) -> str:
    """A free address of the pool 56:6f:xx:xx:xx:xx; the table's unique index settles races."""
    for _ in range(_MAC_ATTEMPTS):
        tail = ":".join(f"{rng.randrange(256):02x}" for _ in range(4))
        mac = f"{MAC_PREFIX}:{tail}"
        if not mac_in_use(conn, mac):
            return mac
    raise Conflict("The MAC address pool is exhausted")


def copy_template_nics(
    conn: Connection, template_id: str, vm_id: str, rng: random.Random
) -> list[m.Nic]:
    """Give a new VM the template's NICs, each with a fresh MAC."""
    copies = []
    for nic in repos.nics.query(conn, tables.nics.c.template_id == template_id):
        copy = nic.model_copy(
            update={
                "id": new_id(),
                "vm": m.Vm(id=vm_id),
                "template": None,
                "mac": m.Mac(address=allocate_mac(conn, rng)),
            }
        )
        repos.nics.insert(conn, copy)
        copies.append(copy)
    return copies


def _require_vm(conn: Connection, vm_id: str) -> m.Vm:
    return repos.vms.get(conn, vm_id)


# What a NIC's guest device is made of: changing one needs the NIC out of a running guest.
_NIC_DEVICE_FIELDS = ("mac", "interface", "vnic_profile", "linked")


class VmNicService(DocumentService[m.Nic]):
    """``/vms/{id}/nics``: on a running VM a plugged NIC is hot-plugged (and unplugged before it
    is removed or set ``plugged=false``); on a VM that is down changes wait for its start."""

    search_fields: ClassVar = SearchFields({"name": text_field(tables.nics.c.name)})
    immutable_fields = frozenset({"id", "href", "vm", "template"})

    def __init__(
        self,
        database: Database,
        rng: random.Random | None = None,
        hotplug: Hotplug | None = None,
    ) -> None:
        super().__init__(database, repos.nics, parent_column="vm_id")
        self.rng = rng or random.Random()
        self.hotplug = hotplug

    def _live(self, vm: m.Vm) -> bool:
        """Whether the VM's guest exists, so its NICs are devices in it; Conflict when it is
        between states (starting, migrating...) or this engine cannot hot-plug."""
        if vm.status in (None, VmStatus.DOWN):
            return False
        if self.hotplug is None:
            raise Conflict(f"Cannot change the NICs of VM {vm.name} while it is {vm.status.value}")
        require_pluggable(vm)
        return True

    @staticmethod
    def _require_connected(vm: m.Vm, nic: m.Nic) -> None:
        if nic.vnic_profile is None:
            raise Conflict(
                f"NIC {nic.name} has no vnic_profile: running VM {vm.name} takes only a "
                "connected NIC"
            )

    def _plug(self, vm: m.Vm, nic: m.Nic, plugged: bool) -> None:
        assert self.hotplug is not None and nic.mac is not None
        if plugged:
            self._require_connected(vm, nic)
        kind, what = ("vm.plug_nic", "Hot-plugging") if plugged else ("vm.unplug_nic", "Unplugging")
        params = {"vm_id": vm.id, "nic_id": nic.id, "mac": nic.mac.address}
        self.hotplug.run(kind, params, vm.name, f"{what} NIC {nic.name}")

    def add(self, scope: Scope, obj: m.Nic, options: Options) -> m.Nic:
        with self.db.transaction() as conn:
            vm = _require_vm(conn, scope.parent)
            prepared = self.prepare_new(conn, scope, obj, options)
            live = prepared.plugged is not False and self._live(vm)
            if live:
                self._require_connected(vm, prepared)
            # a hot-plugged NIC is recorded plugged only once the guest has it
            self.repo.insert(
                conn, prepared.model_copy(update={"plugged": not live and prepared.plugged})
            )
        if live:
            try:
                self._plug(vm, prepared, True)
            except Exception:
                with self.db.transaction() as conn:
                    self.repo.delete(conn, prepared.id or "")
                raise
        return self.get(scope, prepared.id or "")

    def update(self, scope: Scope, object_id: str, changes: m.Nic) -> m.Nic:
        with self.db.read() as conn:
            vm = _require_vm(conn, scope.parent)
            current = self.get_in_scope(conn, scope, object_id)
        if not self._live(vm):
            return super().update(scope, object_id, changes)
        wanted = changes.plugged if changes.plugged is not None else current.plugged
        touched = [
            field
            for field in _NIC_DEVICE_FIELDS
            if field in changes.model_fields_set
            and getattr(changes, field) is not None
            and getattr(changes, field) != getattr(current, field)
        ]
        if touched and current.plugged is not False:
            raise Conflict(
                f"Cannot change {', '.join(touched)} of NIC {current.name} while VM {vm.name} "
                "runs with it plugged: unplug it first (plugged=false)"
            )
        if wanted is False and current.plugged is not False:
            self._plug(vm, current, False)
        if wanted is not False and current.plugged is False:
            # stored as asked but still unplugged; the command records it plugged
            updated = super().update(
                scope, object_id, changes.model_copy(update={"plugged": False})
            )
            self._plug(vm, updated, True)
            return self.get(scope, object_id)
        return super().update(scope, object_id, changes)

    def remove(self, scope: Scope, object_id: str, options: Options) -> None:
        with self.db.read() as conn:
            vm = _require_vm(conn, scope.parent)
            current = self.get_in_scope(conn, scope, object_id)
        if current.plugged is not False and self._live(vm):
            self._plug(vm, current, False)
        super().remove(scope, object_id, options)

    def list(self, scope: Scope, query: ListQuery) -> Sequence[m.Nic]:
        with self.db.read() as conn:
            _require_vm(conn, scope.parent)
        return super().list(scope, query)

    def _profile(self, conn: Connection, vm: m.Vm, nic: m.Nic) -> m.VnicProfile | None:
        """The NIC's profile, whose network must be one the VM's cluster has (oVirt's rule: a
        host of the cluster is only known to carry the cluster's networks)."""
        profile = resolve_optional(
            conn, repos.vnic_profiles, nic.vnic_profile, field="vnic_profile"
        )
        if profile is None or profile.network is None or vm.cluster is None:
            return profile
        cluster_id = vm.cluster.id or ""
        if profile.network.id not in cluster_networks.attachments(conn, cluster_id):
            network = repos.networks.get(conn, profile.network.id or "")
            cluster = repos.clusters.get(conn, cluster_id)
            raise Conflict(
                f"The network {network.name} of vNIC profile {profile.name} is not attached to "
                f"cluster {cluster.name} of VM {vm.name}: attach it to the cluster first"
            )
        return profile

    def _check_name(self, conn: Connection, vm_id: str, name: str, nic_id: str | None) -> None:
        statement = (
            (tables.nics.c.vm_id == vm_id)
            & (tables.nics.c.name == name)
            & (tables.nics.c.id != (nic_id or ""))
        )
        if repos.nics.count(conn, statement):
            raise Conflict(f"The VM already has a NIC named '{name}'")

    def prepare_new(self, conn: Connection, scope: Scope, obj: m.Nic, options: Options) -> m.Nic:
        vm = _require_vm(conn, scope.parent)
        name = require_name(obj, "NIC")
        self._check_name(conn, scope.parent, name, None)
        if obj.mac is not None and obj.mac.address:
            mac = normalise_mac(obj.mac.address)
            if mac_in_use(conn, mac):
                raise Conflict(f"The MAC address {mac} is already in use")
        else:
            mac = allocate_mac(conn, self.rng)
        return obj.model_copy(
            update={
                "id": new_id(),
                "name": name,
                "vm": reference(m.Vm, vm),
                "template": None,
                "interface": obj.interface or NicInterface.VIRTIO,
                "mac": m.Mac(address=mac),
                "vnic_profile": reference(m.VnicProfile, self._profile(conn, vm, obj)),
                "network": None,
                "linked": obj.linked if obj.linked is not None else True,
                "plugged": obj.plugged if obj.plugged is not None else True,
            }
        )

    def prepare_update(
        self, conn: Connection, scope: Scope, current: m.Nic, updated: m.Nic
    ) -> m.Nic:
        assert current.id is not None
        vm = _require_vm(conn, scope.parent)
        name = require_name(updated, "NIC")
        self._check_name(conn, scope.parent, name, current.id)
        mac = current.mac.address if current.mac is not None else None
        if updated.mac is not None and updated.mac.address and updated.mac.address != mac:
            mac = normalise_mac(updated.mac.address)
            if mac_in_use(conn, mac):
                raise Conflict(f"The MAC address {mac} is already in use")
        return updated.model_copy(
            update={
                "mac": m.Mac(address=mac),
                "vnic_profile": reference(m.VnicProfile, self._profile(conn, vm, updated)),
            }
        )


class TemplateNicService(DocumentService[m.Nic]):
    """``/templates/{id}/nics``: read-only here; templates made from VMs will fill it."""

    search_fields: ClassVar = SearchFields({"name": text_field(tables.nics.c.name)})

    def __init__(self, database: Database) -> None:
        super().__init__(database, repos.nics, parent_column="template_id")

    def prepare_new(self, conn: Connection, scope: Scope, obj: m.Nic, options: Options) -> m.Nic:
        raise InvalidInput("The NICs of a template cannot be changed")


StatsLookup = Callable[[str], VmStats | None]


def _statistic(
    vm_id: str,
    name: str,
    description: str,
    value: float,
    unit: StatisticUnit,
    kind: StatisticKind = StatisticKind.GAUGE,
) -> m.Statistic:
    return m.Statistic(
        id=str(uuid.uuid5(_STAT_NAMESPACE, f"{vm_id}/{name}")),
        name=name,
        description=description,
        kind=kind,
        type=ValueType.DECIMAL if unit == StatisticUnit.PERCENT else ValueType.INTEGER,
        unit=unit,
        values=[m.Value(datum=value)],
        vm=m.Vm(id=vm_id),
    )


def vm_statistics(vm: m.Vm, stats: VmStats | None) -> list[m.Statistic]:
    """oVirt's statistic names; a VM that is not running reports zero usage."""
    assert vm.id is not None
    installed = vm.memory or 0
    cpu = stats.cpu_pct if stats is not None else 0.0
    used = stats.memory_used_bytes if stats is not None else 0
    pct, byte, counter = StatisticUnit.PERCENT, StatisticUnit.BYTES, StatisticKind.COUNTER
    rows = [
        ("memory.installed", "Total memory configured", installed, byte, StatisticKind.GAUGE),
        ("memory.used", "Memory used (agent)", used, byte, StatisticKind.GAUGE),
        ("memory.free", "Memory free (agent)", max(0, installed - used), byte, StatisticKind.GAUGE),
        ("cpu.current.guest", "CPU used by guest", cpu, pct, StatisticKind.GAUGE),
        ("cpu.current.hypervisor", "CPU overhead", 0.0, pct, StatisticKind.GAUGE),
        ("cpu.current.total", "Total CPU used", cpu, pct, StatisticKind.GAUGE),
        (
            "disks.read.bytes",
            "Bytes read from disks",
            stats.disk_read_bytes if stats else 0,
            byte,
            counter,
        ),
        (
            "disks.write.bytes",
            "Bytes written to disks",
            stats.disk_write_bytes if stats else 0,
            byte,
            counter,
        ),
        (
            "network.received.bytes",
            "Bytes received",
            stats.net_rx_bytes if stats else 0,
            byte,
            counter,
        ),
        (
            "network.transmitted.bytes",
            "Bytes transmitted",
            stats.net_tx_bytes if stats else 0,
            byte,
            counter,
        ),
    ]
    return [_statistic(vm.id, *row) for row in rows]


class VmStatisticsService(ResourceService):
    """``/vms/{id}/statistics`` from the latest report of the VM's host."""

    def __init__(self, database: Database, latest: StatsLookup) -> None:
        self.db = database
        self.latest = latest

    def list(self, scope: Scope, query: ListQuery) -> Sequence[m.Statistic]:
        with self.db.read() as conn:
            vm = _require_vm(conn, scope.parent)
        running = vm.status in HOLDING_VM_STATUSES
        return vm_statistics(vm, self.latest(scope.parent) if running else None)

    def get(self, scope: Scope, object_id: str) -> m.Statistic:
        return one_listed(
            self.list(scope, ListQuery()),
            object_id,
            f"The statistic with id '{object_id}' does not exist",
        )


class VmNumaNodeService(ResourceService):
    """``/vms/{id}/numanodes``: VMs have no virtual NUMA topology yet, so the list is empty."""

    def __init__(self, database: Database) -> None:
        self.db = database

    def list(self, scope: Scope, query: ListQuery) -> Sequence[m.VirtualNumaNode]:
        with self.db.read() as conn:
            _require_vm(conn, scope.parent)
        return []


def console_id(protocol: GraphicsType) -> str:
    """oVirt's console id: the protocol name hex-encoded (``vnc`` → ``766e63``)."""
    return protocol.value.encode().hex()


def _main_protocol(protocols: list[GraphicsType]) -> GraphicsType | None:
    """oVirt's display of a VM with several consoles: SPICE when it has one."""
    if GraphicsType.SPICE in protocols:
        return GraphicsType.SPICE
    return protocols[0] if protocols else None


def display_protocol(vm: m.Vm) -> GraphicsType:
    """The protocol of the VM's main display, which a VM-level ticket is for; Conflict for a
    VM without any graphics console."""
    main = _main_protocol(graphics_protocols(vm))
    if main is None:
        raise Conflict(f"VM {vm.name} has no graphics console")
    return main


def keep_graphics(vm: m.Vm, protocols: list[GraphicsType]) -> m.Vm:
    """The VM with exactly these consoles; ``display.type`` names the main one."""
    update: dict[str, object] = {
        "graphics_consoles": [m.GraphicsConsole(protocol=kind) for kind in protocols]
    }
    main = _main_protocol(protocols)
    if main is not None:
        display = DisplayType(main.value)
        update["display"] = (vm.display or m.Display()).model_copy(update={"type": display})
    return vm.model_copy(update=update)


class Ticketing(Protocol):
    """What the console service needs from running VMs' hosts (``services.consoles.Consoles``)."""

    def set_ticket(
        self, vm_id: str, protocol: GraphicsType | None, wanted: m.Ticket | None
    ) -> m.Ticket: ...

    def current_display(self, vm_id: str, protocol: GraphicsType) -> tuple[str, int] | None: ...


Protocols = list[GraphicsType]


class VmGraphicsConsoleService(ResourceService):
    """``/vms/{id}/graphicsconsoles``: the VM's VNC and SPICE consoles (VNC alone by default),
    each added or removed while the VM is down; ``current=true`` adds where a running VM's
    displays listen now, and ``ticket`` sets a one-time password on one of them."""

    def __init__(self, database: Database, tickets: Ticketing | None = None) -> None:
        self.db = database
        self.tickets = tickets

    def list(self, scope: Scope, query: ListQuery) -> Sequence[m.GraphicsConsole]:
        with self.db.read() as conn:
            vm = _require_vm(conn, scope.parent)
        consoles = []
        live = query.current and vm.status in HOLDING_VM_STATUSES and self.tickets is not None
        for protocol in graphics_protocols(vm):
            console = m.GraphicsConsole(
                id=console_id(protocol), protocol=protocol, vm=m.Vm(id=vm.id)
            )
            listening = None
            if live and self.tickets is not None and vm.id is not None:
                listening = self.tickets.current_display(vm.id, protocol)
            if listening is not None:
                address, port = listening
                console = console.model_copy(update={"address": address, "port": port})
            consoles.append(console)
        return consoles

    def get(self, scope: Scope, object_id: str) -> m.GraphicsConsole:
        return one_listed(
            self.list(scope, ListQuery()),
            object_id,
            f"The graphics console with id '{object_id}' does not exist",
        )

    def _change(self, scope: Scope, what: str, change: Callable[[m.Vm, Protocols], None]) -> None:
        """Apply ``change`` to the consoles of a VM that is down, compare-and-swap on its row;
        displays are devices QEMU cannot plug into a running guest."""
        with self.db.transaction() as conn:
            vm = _require_vm(conn, scope.parent)
            version = repos.vms.version_of(conn, scope.parent)
            protocols = graphics_protocols(vm)
            change(vm, protocols)
            if vm.status not in (None, VmStatus.DOWN):
                raise Conflict(f"Cannot {what} of VM {vm.name} while it is {vm.status.value}")
            repos.vms.save(conn, keep_graphics(vm, protocols), expected_version=version)

    def add(self, scope: Scope, obj: m.GraphicsConsole, options: Options) -> m.GraphicsConsole:
        protocol = obj.protocol
        if protocol is None:
            raise InvalidInput("A graphics console needs a protocol: vnc or spice")

        def append(vm: m.Vm, protocols: Protocols) -> None:
            if protocol in protocols:
                raise Conflict(f"VM {vm.name} already has a {protocol.value} console")
            protocols.append(protocol)

        self._change(scope, f"add a {protocol.value} console", append)
        return m.GraphicsConsole(
            id=console_id(protocol), protocol=protocol, vm=m.Vm(id=scope.parent)
        )

    def remove(self, scope: Scope, object_id: str, options: Options) -> None:
        protocol = self.get(scope, object_id).protocol
        assert protocol is not None
        self._change(
            scope, f"remove the {protocol.value} console", lambda _, ps: ps.remove(protocol)
        )

    def ticket(self, scope: Scope, object_id: str, action: m.Action) -> m.Action:
        console = self.get(scope, object_id)
        if self.tickets is None:
            raise Conflict("Console tickets are not available in this engine")
        ticket = self.tickets.set_ticket(scope.parent, console.protocol, action.ticket)
        return m.Action(status="complete", ticket=ticket)


def _tag_assignment(vm_id: str, tag_id: str) -> ColumnElement[bool]:
    return (tables.vm_tags.c.vm_id == vm_id) & (tables.vm_tags.c.tag_id == tag_id)


class VmTagService(ResourceService):
    """``/vms/{id}/tags``: the tags assigned to a VM; adding one assigns an existing tag (by id or
    name), removing it unassigns it and leaves the tag itself."""

    def __init__(self, database: Database) -> None:
        self.db = database

    def list(self, scope: Scope, query: ListQuery) -> Sequence[m.Tag]:
        with self.db.read() as conn:
            _require_vm(conn, scope.parent)
            assigned = select(tables.vm_tags.c.tag_id).where(tables.vm_tags.c.vm_id == scope.parent)
            tags = repos.tags.query(conn, tables.tags.c.id.in_(assigned), limit=query.max)
        return [tag.model_copy(update={"vm": m.Vm(id=scope.parent)}) for tag in tags]

    def get(self, scope: Scope, object_id: str) -> m.Tag:
        return one_listed(
            self.list(scope, ListQuery()),
            object_id,
            f"The tag with id '{object_id}' is not assigned to this VM",
        )

    def add(self, scope: Scope, obj: m.Tag, options: Options) -> m.Tag:
        with self.db.transaction() as conn:
            vm = _require_vm(conn, scope.parent)
            tag = resolve(conn, repos.tags, obj, field="tag")
            assert tag.id is not None
            pair = _tag_assignment(scope.parent, tag.id)
            if conn.execute(select(tables.vm_tags.c.vm_id).where(pair)).first() is not None:
                raise Conflict(f"The tag '{tag.name}' is already assigned to VM {vm.name}")
            conn.execute(tables.vm_tags.insert().values(vm_id=scope.parent, tag_id=tag.id))
        return tag.model_copy(update={"vm": m.Vm(id=scope.parent)})

    def remove(self, scope: Scope, object_id: str, options: Options) -> None:
        with self.db.transaction() as conn:
            _require_vm(conn, scope.parent)
            pair = _tag_assignment(scope.parent, object_id)
            if conn.execute(tables.vm_tags.delete().where(pair)).rowcount == 0:
                raise NotFound(f"The tag with id '{object_id}' is not assigned to this VM")
