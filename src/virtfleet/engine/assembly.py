"""The engine as one typed object, built here once at start-up and passed down.

Each component is built from the ones it needs, in dependency order; nothing is looked up by a
string key later. Background loops start in the order of ``background`` and stop in reverse.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import insert, select

from virtfleet.common.clock import Clock, SystemClock
from virtfleet.engine.commands.env import CommandEnv
from virtfleet.engine.commands.host_commands import host_command_definitions
from virtfleet.engine.commands.hotplug_commands import hotplug_command_definitions
from virtfleet.engine.commands.runner import CommandRunner
from virtfleet.engine.commands.storage_commands import storage_command_definitions
from virtfleet.engine.commands.vm_commands import vm_command_definitions
from virtfleet.engine.config import EngineConfig
from virtfleet.engine.core.eventlog import EventLog
from virtfleet.engine.monitoring.batchwriter import BatchWriter
from virtfleet.engine.monitoring.connections import HostConnections
from virtfleet.engine.monitoring.hostmonitor import HostMonitor
from virtfleet.engine.monitoring.storagemonitor import StorageMonitor
from virtfleet.engine.monitoring.vmstate import VmStateTracker
from virtfleet.engine.persistence import tables
from virtfleet.engine.persistence.database import Database
from virtfleet.engine.scheduler.scheduler import Scheduler
from virtfleet.engine.services.activity import EventService, JobService, JobStepService
from virtfleet.engine.services.auth import AuthService
from virtfleet.engine.services.base import ResourceService
from virtfleet.engine.services.cluster_networks import ClusterNetworkService
from virtfleet.engine.services.clusters import ClusterService
from virtfleet.engine.services.consoles import Consoles, EngineLoop
from virtfleet.engine.services.datacenters import DataCenterService
from virtfleet.engine.services.disks import DiskAttachmentService, DiskService, InlineVmDisks
from virtfleet.engine.services.guest_reports import GuestReports, guest_services
from virtfleet.engine.services.host_nics import HostNicService, HostNicStatisticsService
from virtfleet.engine.services.hosts import HostService, HostStatisticsService
from virtfleet.engine.services.hotplug import Hotplug
from virtfleet.engine.services.networks import NetworkService, VnicProfileService
from virtfleet.engine.services.permissions import VmPermissionService
from virtfleet.engine.services.placement import reported_usage
from virtfleet.engine.services.scheduling import scheduling_services
from virtfleet.engine.services.storage_domains import (
    AttachedStorageDomainService,
    StorageDomainDiskService,
    StorageDomainService,
)
from virtfleet.engine.services.system import (
    OperatingSystemService,
    RootService,
    TagService,
    UserService,
)
from virtfleet.engine.services.templates import TemplateService
from virtfleet.engine.services.vm_devices import (
    TemplateNicService,
    VmGraphicsConsoleService,
    VmNicService,
    VmNumaNodeService,
    VmStatisticsService,
    VmTagService,
)
from virtfleet.engine.services.vms import VmService


class Background(Protocol):
    """A loop that runs while the engine runs (monitoring, the command runner...)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass(frozen=True)
class Engine:
    """Everything long-lived in one engine process."""

    config: EngineConfig
    database: Database
    clock: Clock
    eventlog: EventLog
    auth: AuthService
    root: RootService
    runner: CommandRunner
    batch_writer: BatchWriter
    vm_states: VmStateTracker
    connections: HostConnections
    monitor: HostMonitor
    storage_monitor: StorageMonitor
    loop: EngineLoop
    consoles: Consoles
    scheduler: Scheduler
    services: Mapping[str, ResourceService]

    @property
    def background(self) -> Sequence[Background]:
        # the writer first (monitoring writes through it), the runner last: once it resumes
        # interrupted commands, everything they call must already run
        return (self.batch_writer, self.monitor, self.storage_monitor, self.loop, self.runner)

    async def start(self) -> None:
        for component in self.background:
            await component.start()

    async def stop(self) -> None:
        for component in reversed(self.background):
            await component.stop()
        self.eventlog.close()
        self.database.dispose()


def _instance_id(database: Database) -> str:
    """A stable id for this installation, kept in the database."""
    key = tables.settings.c.key
    with database.transaction() as conn:
        row = conn.execute(select(tables.settings.c.value).where(key == "instance_id")).first()
        if row is not None:
            return str(row.value)
        value = str(uuid.uuid4())
        conn.execute(insert(tables.settings).values(key="instance_id", value=value))
        return value


def build_engine(
    config: EngineConfig,
    *,
    clock: Clock | None = None,
    connections: HostConnections | None = None,
) -> Engine:
    """The whole engine on ``config``'s database (migrated first), not started yet.

    ``connections`` replaces the engine's connections to the agents (tests put a stand-in
    there to fail calls on purpose).
    """
    database = Database(config.effective_database_url)
    database.migrate()
    clock = clock or SystemClock()
    eventlog = EventLog(database, clock)
    runner = CommandRunner(
        database,
        clock,
        eventlog,
        (
            *host_command_definitions(),
            *storage_command_definitions(),
            *vm_command_definitions(),
            *hotplug_command_definitions(),
        ),
        max_live=config.max_live_commands,
    )
    batch_writer = BatchWriter(database)
    vm_states = VmStateTracker(batch_writer, clock, eventlog)
    connections = connections or HostConnections(config.pki_dir)
    monitor = HostMonitor(
        config,
        database,
        clock,
        eventlog,
        connections=connections,
        writer=batch_writer,
        sink=vm_states,
    )
    storage_monitor = StorageMonitor(
        database,
        eventlog,
        connections,
        batch_writer,
        interval_s=config.storage_monitor_interval_s,
    )
    scheduler = Scheduler(reported_usage(monitor))
    loop = EngineLoop()
    consoles = Consoles(database, clock, connections, loop)
    disks = DiskService(database, runner)
    vm_disk_attachments = DiskAttachmentService(database, disks)
    runner.env = CommandEnv(
        config=config,
        connections=connections,
        monitor=monitor,
        inline_disks=InlineVmDisks(vm_disk_attachments),
        scheduler=scheduler,
    )
    host_nics = HostNicService(database, monitor)
    guests = GuestReports(database, vm_states.latest_stats)
    services: dict[str, ResourceService] = {
        "data_centers": DataCenterService(database),
        "clusters": ClusterService(database),
        "data_center_clusters": ClusterService(database, parent_column="data_center_id"),
        "networks": NetworkService(database),
        "data_center_networks": NetworkService(database, scope_kind="data_center"),
        "cluster_networks": ClusterNetworkService(database),
        "vnic_profiles": VnicProfileService(database),
        "templates": TemplateService(database),
        "operating_systems": OperatingSystemService(),
        "users": UserService(database),
        "tags": TagService(database),
        "events": EventService(database, eventlog),
        "jobs": JobService(database),
        "job_steps": JobStepService(database),
        "hosts": HostService(database, eventlog, runner, monitor),
        "host_statistics": HostStatisticsService(database, monitor),
        "host_nics": host_nics,
        "host_nic_statistics": HostNicStatisticsService(host_nics),
        "storage_domains": StorageDomainService(database, runner, eventlog),
        "attached_storage_domains": AttachedStorageDomainService(database, runner, eventlog),
        "storage_domain_disks": StorageDomainDiskService(database),
        "disks": disks,
        "vm_disk_attachments": vm_disk_attachments,
        "template_disk_attachments": DiskAttachmentService(
            database, disks, parent_column="template_id"
        ),
        "vms": VmService(
            database,
            clock,
            eventlog,
            runner,
            scheduler=scheduler,
            disk_attachments=vm_disk_attachments,
            consoles=consoles,
            guests=guests,
        ),
        **guest_services(guests),
        "vm_nics": VmNicService(database, hotplug=Hotplug(runner)),
        "template_nics": TemplateNicService(database),
        "vm_statistics": VmStatisticsService(database, vm_states.latest_stats),
        "vm_numa_nodes": VmNumaNodeService(database),
        "vm_graphics_consoles": VmGraphicsConsoleService(database, consoles),
        "vm_tags": VmTagService(database),
        "vm_permissions": VmPermissionService(database),
        **scheduling_services(),
    }
    return Engine(
        config=config,
        database=database,
        clock=clock,
        eventlog=eventlog,
        auth=AuthService(database, clock, eventlog),
        root=RootService(database, clock, _instance_id(database)),
        runner=runner,
        batch_writer=batch_writer,
        vm_states=vm_states,
        connections=connections,
        monitor=monitor,
        storage_monitor=storage_monitor,
        loop=loop,
        consoles=consoles,
        scheduler=scheduler,
        services=services,
    )
