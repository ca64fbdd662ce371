"""System types: events, jobs, users and permissions, tags, and the body of actions."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from pydantic import Field

from virtfleet.common.apimodel.base import ApiObject, ApiStruct
from virtfleet.common.apimodel.common import Fault, PowerManagement, Ssh, read_only, write_only
from virtfleet.common.apimodel.enums import JobStatus, LogSeverity, StepEnum, StepStatus

if TYPE_CHECKING:
    from virtfleet.common.apimodel.compute import Template, Ticket, Vm
    from virtfleet.common.apimodel.infra import Cluster, DataCenter, Host
    from virtfleet.common.apimodel.storage import Disk, StorageDomain


class Event(ApiObject):
    """An audit-log entry; its id is an integer written as a string, newest first in lists."""

    xml_tag: ClassVar[str] = "event"
    xml_collection: ClassVar[str] = "events"

    code: int | None = None
    severity: LogSeverity | None = None
    time: datetime | None = None
    origin: str | None = None
    custom_id: int | None = None
    flood_rate: int | None = None
    correlation_id: str | None = None
    index: int | None = None
    log_on_host: bool | None = None
    custom_data: str | None = None
    user: User | None = None
    vm: Vm | None = None
    host: Host | None = None
    cluster: Cluster | None = None
    data_center: DataCenter | None = None
    storage_domain: StorageDomain | None = None
    template: Template | None = None


class Job(ApiObject):
    """A long operation that clients follow until it reaches a final status."""

    xml_tag: ClassVar[str] = "job"
    xml_collection: ClassVar[str] = "jobs"

    status: JobStatus | None = Field(None, json_schema_extra=read_only())
    start_time: datetime | None = None
    end_time: datetime | None = None
    last_updated: datetime | None = None
    external: bool | None = None
    auto_cleared: bool | None = None
    owner: User | None = None


class Step(ApiObject):
    xml_tag: ClassVar[str] = "step"
    xml_collection: ClassVar[str] = "steps"

    job: Job | None = None
    parent_step: Step | None = None
    type: StepEnum | None = None
    number: int | None = None
    status: StepStatus | None = Field(None, json_schema_extra=read_only())
    start_time: datetime | None = None
    end_time: datetime | None = None
    external: bool | None = None
    progress: int | None = None
    execution_host: Host | None = None


class Domain(ApiObject):
    """An authentication domain (``internal-authz``) users and groups come from."""

    xml_tag: ClassVar[str] = "domain"
    xml_collection: ClassVar[str] = "domains"


class User(ApiObject):
    """A user; ``password`` is accepted when adding a local user and never returned."""

    xml_tag: ClassVar[str] = "user"
    xml_collection: ClassVar[str] = "users"

    user_name: str | None = None
    principal: str | None = None
    domain: Domain | None = None
    domain_entry_id: str | None = None
    namespace: str | None = None
    email: str | None = None
    department: str | None = None
    last_name: str | None = None
    logged_in: bool | None = None
    password: str | None = Field(None, json_schema_extra=write_only())


class Group(ApiObject):
    xml_tag: ClassVar[str] = "group"
    xml_collection: ClassVar[str] = "groups"

    domain: Domain | None = None
    domain_entry_id: str | None = None
    namespace: str | None = None


class Role(ApiObject):
    xml_tag: ClassVar[str] = "role"
    xml_collection: ClassVar[str] = "roles"

    administrative: bool | None = None
    mutable: bool | None = None


class Permission(ApiObject):
    """A role granted to a user or group on one object (or on the whole system)."""

    xml_tag: ClassVar[str] = "permission"
    xml_collection: ClassVar[str] = "permissions"

    role: Role | None = None
    user: User | None = None
    group: Group | None = None
    data_center: DataCenter | None = None
    cluster: Cluster | None = None
    host: Host | None = None
    storage_domain: StorageDomain | None = None
    vm: Vm | None = None
    template: Template | None = None
    disk: Disk | None = None


class Tag(ApiObject):
    """A label; tags form a tree under the root tag."""

    xml_tag: ClassVar[str] = "tag"
    xml_collection: ClassVar[str] = "tags"

    parent: Tag | None = None
    host: Host | None = None
    vm: Vm | None = None
    user: User | None = None
    group: Group | None = None
    template: Template | None = None


class GracePeriod(ApiStruct):
    xml_tag: ClassVar[str] = "grace_period"

    expiry: int | None = None


class Action(ApiObject):
    """The ``<action>`` body of every action POST and of its reply (``status``, ``job``, ``fault``).

    ``async`` is a Python keyword, hence the alias.
    """

    xml_tag: ClassVar[str] = "action"

    async_: bool | None = Field(None, alias="async")
    force: bool | None = None
    status: str | None = None
    fault: Fault | None = None
    job: Job | None = None
    reason: str | None = None
    host: Host | None = None
    vm: Vm | None = None
    cluster: Cluster | None = None
    data_center: DataCenter | None = None
    storage_domain: StorageDomain | None = None
    storage_domains: list[StorageDomain] | None = None
    template: Template | None = None
    disk: Disk | None = None
    disks: list[Disk] | None = None
    filter: bool | None = None
    pause: bool | None = None
    volatile: bool | None = None
    use_cloud_init: bool | None = None
    use_sysprep: bool | None = None
    use_ignition: bool | None = None
    use_initialization: bool | None = None
    fence_type: str | None = None
    maintenance_after_restart: bool | None = None
    stop_gluster_service: bool | None = None
    grace_period: GracePeriod | None = None
    power_management: PowerManagement | None = None
    ticket: Ticket | None = None
    clone: bool | None = None
    clone_permissions: bool | None = None
    collapse_snapshots: bool | None = None
    discard_snapshots: bool | None = None
    exclusive: bool | None = None
    detach_only: bool | None = None
    directory: str | None = None
    filename: str | None = None
    restore_memory: bool | None = None
    migrate_vms_in_affinity_closure: bool | None = None
    activate: bool | None = None
    reboot: bool | None = None
    image: str | None = None
    ssh: Ssh | None = None
    root_password: str | None = Field(None, json_schema_extra=write_only())
    deploy_hosted_engine: bool | None = None
    undeploy_hosted_engine: bool | None = None
    commit_on_success: bool | None = None
    timeout: int | None = None
    correlation_id: str | None = None
    succeeded: bool | None = None
