"""The API root, the guest OS catalogue, users and tags."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from sqlalchemy import Connection

from virtfleet.common import apimodel as m
from virtfleet.common.apimodel.enums import Architecture, HostStatus, StorageDomainStatus, VmStatus
from virtfleet.common.clock import Clock
from virtfleet.common.errors import Conflict, NotFound
from virtfleet.engine.persistence import repositories as repos
from virtfleet.engine.persistence import tables
from virtfleet.engine.persistence.database import Database
from virtfleet.engine.services import oscatalog
from virtfleet.engine.services.auth import Principal, users_repository
from virtfleet.engine.services.base import (
    DocumentService,
    ListQuery,
    Options,
    ResourceService,
    Scope,
)
from virtfleet.engine.services.compat import PRODUCT_VERSION
from virtfleet.engine.services.refs import new_id, reference, require_name, resolve_optional
from virtfleet.engine.services.search import catalog

BLANK_TEMPLATE_ID = "00000000-0000-0000-0000-000000000000"
ROOT_TAG_ID = "00000000-0000-0000-0000-000000000000"
PRODUCT_NAME = "virtfleet"
PRODUCT_VENDOR = "The virtfleet project"

_RUNNING_VM = [
    VmStatus.UP,
    VmStatus.POWERING_UP,
    VmStatus.POWERING_DOWN,
    VmStatus.MIGRATING,
    VmStatus.REBOOT_IN_PROGRESS,
    VmStatus.PAUSED,
]


class RootService:
    """``GET /ovirt-engine/api``: product, counts, special objects."""

    def __init__(self, database: Database, clock: Clock, instance_id: str) -> None:
        self.db = database
        self.clock = clock
        self.instance_id = instance_id

    def describe(self, principal: Principal) -> m.Api:
        with self.db.read() as conn:
            summary = m.ApiSummary(
                vms=_summary(
                    repos.vms.count(conn, tables.vms.c.status.in_(_RUNNING_VM)),
                    repos.vms.count(conn),
                ),
                hosts=_summary(
                    repos.hosts.count(conn, tables.hosts.c.status == HostStatus.UP),
                    repos.hosts.count(conn),
                ),
                users=_summary(users_repository().count(conn), users_repository().count(conn)),
                storage_domains=_summary(
                    repos.storage_domains.count(
                        conn, tables.storage_domains.c.status == StorageDomainStatus.ACTIVE
                    ),
                    repos.storage_domains.count(conn),
                ),
            )
        return m.Api(
            product_info=m.ProductInfo(
                name=PRODUCT_NAME,
                vendor=PRODUCT_VENDOR,
                version=PRODUCT_VERSION,
                instance_id=self.instance_id,
            ),
            summary=summary,
            special_objects=m.SpecialObjects(
                blank_template=m.Template(id=BLANK_TEMPLATE_ID),
                root_tag=m.Tag(id=ROOT_TAG_ID),
            ),
            time=self.clock.now(),
            authenticated_user=m.User(id=principal.user_id),
            effective_user=m.User(id=principal.user_id),
        )


def _summary(active: int, total: int) -> m.ApiSummaryItem:
    return m.ApiSummaryItem(active=active, total=total)


class OperatingSystemService(ResourceService):
    def _all(self) -> list[m.OperatingSystemInfo]:
        return [
            m.OperatingSystemInfo(
                id=os.id,
                name=os.name,
                description=os.description,
                architecture=Architecture.X86_64,
            )
            for os in oscatalog.CATALOG
        ]

    def list(self, scope: Scope, query: ListQuery) -> Sequence[m.OperatingSystemInfo]:
        items = self._all()
        return items if query.max is None or query.max < 0 else items[: query.max]

    def get(self, scope: Scope, object_id: str) -> m.OperatingSystemInfo:
        for item in self._all():
            if item.id == object_id:
                return item
        raise NotFound(f"The operating system with id '{object_id}' does not exist")


class UserService(DocumentService[m.User]):
    search_fields: ClassVar = catalog.USERS.resolvers()

    def __init__(self, database: Database) -> None:
        super().__init__(database, users_repository())


class TagService(DocumentService[m.Tag]):
    search_fields: ClassVar = catalog.TAGS.resolvers()

    def __init__(self, database: Database) -> None:
        super().__init__(database, repos.tags)

    def prepare_new(self, conn: Connection, scope: Scope, obj: m.Tag, options: Options) -> m.Tag:
        require_name(obj, "tag")
        parent = resolve_optional(conn, repos.tags, obj.parent, field="parent")
        return m.Tag(
            id=new_id(),
            name=obj.name,
            description=obj.description,
            parent=reference(m.Tag, parent) or m.Tag(id=ROOT_TAG_ID),
        )

    def prepare_update(
        self, conn: Connection, scope: Scope, current: m.Tag, updated: m.Tag
    ) -> m.Tag:
        require_name(updated, "tag")
        return updated

    def before_remove(self, conn: Connection, scope: Scope, obj: m.Tag, options: Options) -> None:
        if obj.id == ROOT_TAG_ID:
            raise Conflict("The root tag cannot be removed")
        children = repos.tags.count(conn, tables.tags.c.parent_id == obj.id)
        if children:
            raise Conflict(f"The tag '{obj.name}' has {children} child tag(s)")
