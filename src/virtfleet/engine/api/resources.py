"""The table of every API resource: path, type, service, operations, actions and sub-collections.

Routes, links, the OpenAPI description and the API root's links are all generated from this one
table; adding a resource means adding a row here and a service for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from virtfleet.common import apimodel as m
from virtfleet.common.apimodel.base import ApiObject
from virtfleet.engine.services.base import Scope
from virtfleet.engine.services.hosts import HostService
from virtfleet.engine.services.storage_domains import AttachedStorageDomainService
from virtfleet.engine.services.vm_devices import VmGraphicsConsoleService
from virtfleet.engine.services.vms import VmService


class Op(StrEnum):
    LIST = "list"
    ADD = "add"
    GET = "get"
    UPDATE = "update"
    REMOVE = "remove"


READ = frozenset({Op.LIST, Op.GET})
CRUD = frozenset(Op)
NO_UPDATE = frozenset({Op.LIST, Op.GET, Op.ADD, Op.REMOVE})


ActionMethod = Callable[[Any, Scope, str, m.Action], m.Action]


@dataclass(frozen=True)
class ActionRoute:
    """``POST .../{id}/<name>`` runs ``method`` (a method of the resource's service class)."""

    name: str
    method: ActionMethod

    def serves(self, service: object) -> bool:
        """Whether ``service``'s class has this very method (checked when routes are built)."""
        return getattr(type(service), self.method.__name__, None) is self.method


@dataclass(frozen=True)
class Resource:
    segment: str
    model: type[ApiObject]
    service: str
    ops: frozenset[Op] = CRUD
    actions: tuple[ActionRoute, ...] = ()
    children: tuple[Resource, ...] = ()

    @property
    def collection_tag(self) -> str:
        return self.model.xml_collection

    @property
    def item_tag(self) -> str:
        return self.model.xml_tag


def _statistics(service: str) -> Resource:
    return Resource("statistics", m.Statistic, service, READ)


VM_ACTIONS = (
    ActionRoute("start", VmService.start),
    ActionRoute("stop", VmService.stop),
    ActionRoute("shutdown", VmService.shutdown),
    ActionRoute("reboot", VmService.reboot),
    ActionRoute("suspend", VmService.suspend),
    ActionRoute("ticket", VmService.ticket),
)
HOST_ACTIONS = (
    ActionRoute("activate", HostService.activate),
    ActionRoute("deactivate", HostService.deactivate),
    ActionRoute("install", HostService.install),
    ActionRoute("refresh", HostService.refresh),
)
ATTACHED_DOMAIN_ACTIONS = (
    ActionRoute("activate", AttachedStorageDomainService.activate),
    ActionRoute("deactivate", AttachedStorageDomainService.deactivate),
)

TABLE: tuple[Resource, ...] = (
    Resource(
        "datacenters",
        m.DataCenter,
        "data_centers",
        children=(
            Resource("clusters", m.Cluster, "data_center_clusters", READ),
            Resource("networks", m.Network, "data_center_networks", READ),
            Resource(
                "storagedomains",
                m.StorageDomain,
                "attached_storage_domains",
                NO_UPDATE,
                actions=ATTACHED_DOMAIN_ACTIONS,
            ),
        ),
    ),
    Resource(
        "clusters",
        m.Cluster,
        "clusters",
        children=(Resource("networks", m.Network, "cluster_networks"),),
    ),
    Resource(
        "hosts",
        m.Host,
        "hosts",
        actions=HOST_ACTIONS,
        children=(
            _statistics("host_statistics"),
            Resource(
                "nics",
                m.HostNic,
                "host_nics",
                READ,
                children=(_statistics("host_nic_statistics"),),
            ),
        ),
    ),
    Resource(
        "storagedomains",
        m.StorageDomain,
        "storage_domains",
        children=(Resource("disks", m.Disk, "storage_domain_disks", READ),),
    ),
    Resource(
        "vms",
        m.Vm,
        "vms",
        actions=VM_ACTIONS,
        children=(
            Resource("diskattachments", m.DiskAttachment, "vm_disk_attachments"),
            Resource("nics", m.Nic, "vm_nics"),
            _statistics("vm_statistics"),
            Resource("numanodes", m.VirtualNumaNode, "vm_numa_nodes", READ),
            Resource(
                "graphicsconsoles",
                m.GraphicsConsole,
                "vm_graphics_consoles",
                NO_UPDATE,
                actions=(ActionRoute("ticket", VmGraphicsConsoleService.ticket),),
            ),
            Resource("permissions", m.Permission, "vm_permissions", READ),
            Resource("tags", m.Tag, "vm_tags", NO_UPDATE),
            Resource("reporteddevices", m.ReportedDevice, "vm_reported_devices", READ),
            Resource("sessions", m.Session, "vm_sessions", READ),
        ),
    ),
    Resource(
        "templates",
        m.Template,
        "templates",
        children=(
            Resource("diskattachments", m.DiskAttachment, "template_disk_attachments", READ),
            Resource("nics", m.Nic, "template_nics", READ),
        ),
    ),
    Resource("disks", m.Disk, "disks"),
    Resource("networks", m.Network, "networks"),
    Resource("vnicprofiles", m.VnicProfile, "vnic_profiles"),
    Resource("operatingsystems", m.OperatingSystemInfo, "operating_systems", READ),
    Resource("events", m.Event, "events", frozenset({Op.LIST, Op.GET, Op.ADD})),
    Resource(
        "jobs",
        m.Job,
        "jobs",
        READ,
        children=(Resource("steps", m.Step, "job_steps", READ),),
    ),
    Resource("users", m.User, "users", READ),
    Resource(
        "schedulingpolicies",
        m.SchedulingPolicy,
        "scheduling_policies",
        children=(
            Resource("filters", m.Filter, "scheduling_policy_filters"),
            Resource("weights", m.Weight, "scheduling_policy_weights"),
            Resource("balances", m.Balance, "scheduling_policy_balances"),
        ),
    ),
    Resource("schedulingpolicyunits", m.SchedulingPolicyUnit, "scheduling_policy_units"),
    Resource("tags", m.Tag, "tags"),
)


def top_level_paths() -> dict[type[ApiObject], str]:
    """Where each type lives at the top of the tree, for hrefs of nested references."""
    paths: dict[type[ApiObject], str] = {}
    for resource in TABLE:
        paths.setdefault(resource.model, resource.segment)
    return paths
