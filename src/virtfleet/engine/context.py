"""The engine's container: every long-lived object, built once at start-up and passed down."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import insert, select

from virtfleet.common.clock import Clock, SystemClock
from virtfleet.engine.commands.runner import CommandRunner
from virtfleet.engine.config import EngineConfig
from virtfleet.engine.core.eventlog import EventLog
from virtfleet.engine.persistence import tables
from virtfleet.engine.persistence.database import Database
from virtfleet.engine.services.activity import EventService, JobService, JobStepService
from virtfleet.engine.services.auth import AuthService
from virtfleet.engine.services.base import ResourceService
from virtfleet.engine.services.clusters import ClusterService
from virtfleet.engine.services.datacenters import DataCenterService
from virtfleet.engine.services.networks import NetworkService, VnicProfileService
from virtfleet.engine.services.system import (
    OperatingSystemService,
    RootService,
    TagService,
    UserService,
)
from virtfleet.engine.services.templates import TemplateService

ServiceFactory = Callable[["EngineContext"], dict[str, ResourceService]]


class Background(Protocol):
    """A loop that runs while the engine runs (monitoring, the command runner...)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass
class EngineContext:
    """Everything long-lived. ``extras`` holds components owned by one package (host
    connections, the scheduler...), each read through an accessor in its own module."""

    config: EngineConfig
    database: Database
    clock: Clock
    auth: AuthService
    root: RootService
    eventlog: EventLog
    runner: CommandRunner
    services: dict[str, ResourceService] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
    background: list[Background] = field(default_factory=list)

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


def core_services(ctx: EngineContext) -> dict[str, ResourceService]:
    db = ctx.database
    return {
        "data_centers": DataCenterService(db),
        "clusters": ClusterService(db),
        "data_center_clusters": ClusterService(db, parent_column="data_center_id"),
        "networks": NetworkService(db),
        "data_center_networks": NetworkService(db, scope_kind="data_center"),
        "cluster_networks": NetworkService(db, scope_kind="cluster"),
        "vnic_profiles": VnicProfileService(db),
        "templates": TemplateService(db),
        "operating_systems": OperatingSystemService(),
        "users": UserService(db),
        "tags": TagService(db),
        "events": EventService(db, ctx.eventlog),
        "jobs": JobService(db),
        "job_steps": JobStepService(db),
    }


def default_service_factories() -> tuple[ServiceFactory, ...]:
    """Every package's services, in the order their components must start."""
    from virtfleet.engine.services.consoles import console_services
    from virtfleet.engine.services.hosts import host_services
    from virtfleet.engine.services.storage_domains import storage_services
    from virtfleet.engine.services.vms import vm_services

    return (core_services, host_services, storage_services, vm_services, console_services)


def build_context(
    config: EngineConfig,
    *,
    clock: Clock | None = None,
    service_factories: tuple[ServiceFactory, ...] = (core_services,),
) -> EngineContext:
    database = Database(config.effective_database_url)
    database.migrate()
    clock = clock or SystemClock()
    eventlog = EventLog(database, clock)
    runner = CommandRunner(database, clock, eventlog)
    ctx = EngineContext(
        config=config,
        database=database,
        clock=clock,
        auth=AuthService(database, clock, eventlog),
        root=RootService(database, clock, _instance_id(database)),
        eventlog=eventlog,
        runner=runner,
    )
    runner.services = ctx
    for factory in service_factories:
        ctx.services.update(factory(ctx))
    # the runner starts last, once every factory has registered its commands
    ctx.background.append(runner)
    return ctx
