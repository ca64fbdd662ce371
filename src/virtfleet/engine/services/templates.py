"""Templates: the Blank template every installation has, and templates made from VMs."""

from __future__ import annotations

from typing import ClassVar

from sqlalchemy import Connection

from virtfleet.common import apimodel as m
from virtfleet.common.apimodel.enums import BootDevice, TemplateStatus, VmType
from virtfleet.common.clock import Clock
from virtfleet.common.errors import Conflict, InvalidInput
from virtfleet.engine.persistence import repositories as repos
from virtfleet.engine.persistence import tables
from virtfleet.engine.persistence.database import Database
from virtfleet.engine.services.base import DocumentService, Options, Scope
from virtfleet.engine.services.search import catalog
from virtfleet.engine.services.system import BLANK_TEMPLATE_ID
from virtfleet.engine.services.vm_hardware import validate_hardware
from virtfleet.engine.services.vm_migration import refuse_migration_changes

_T = tables.templates
GiB = 1024**3


def blank_template(clock: Clock) -> m.Template:
    return m.Template(
        id=BLANK_TEMPLATE_ID,
        name="Blank",
        description="Blank template",
        status=TemplateStatus.OK,
        type=VmType.SERVER,
        memory=GiB,
        memory_policy=m.MemoryPolicy(guaranteed=GiB, max=4 * GiB, ballooning=True),
        cpu=m.Cpu(topology=m.CpuTopology(sockets=1, cores=1, threads=1)),
        os=m.OperatingSystem(type="other", boot=m.Boot(devices=[BootDevice.HD])),
        stateless=False,
        delete_protected=False,
        high_availability=m.HighAvailability(enabled=False, priority=0),
        version=m.TemplateVersion(version_number=1, base_template=m.Template(id=BLANK_TEMPLATE_ID)),
        creation_time=clock.now(),
        origin="ovirt",
    )


class TemplateService(DocumentService[m.Template]):
    search_fields: ClassVar = catalog.TEMPLATES.resolvers()
    immutable_fields = frozenset({"id", "href", "status", "cluster"})

    def __init__(self, database: Database) -> None:
        super().__init__(database, repos.templates)

    def prepare_new(
        self, conn: Connection, scope: Scope, obj: m.Template, options: Options
    ) -> m.Template:
        raise InvalidInput("Making templates from VMs is not available yet")

    def prepare_update(
        self, conn: Connection, scope: Scope, current: m.Template, updated: m.Template
    ) -> m.Template:
        if current.id == BLANK_TEMPLATE_ID and updated.name != current.name:
            raise Conflict("The Blank template cannot be renamed")
        validate_hardware(updated)  # new VMs inherit these, so they must be applicable
        refuse_migration_changes(current, updated)
        return updated

    def before_remove(
        self, conn: Connection, scope: Scope, obj: m.Template, options: Options
    ) -> None:
        if obj.id == BLANK_TEMPLATE_ID:
            raise Conflict("The Blank template cannot be removed")
        users = repos.vms.count(conn, tables.vms.c.template_id == obj.id)
        if users:
            raise Conflict(f"The template '{obj.name}' is used by {users} VM(s)")
