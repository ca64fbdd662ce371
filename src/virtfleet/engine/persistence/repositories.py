"""One repository per resource table, with the columns each derives from its object."""

from __future__ import annotations

from typing import Any

from virtfleet.common import apimodel as m
from virtfleet.engine.persistence import tables
from virtfleet.engine.persistence.documents import DocumentRepository, attr, ref_id


def _first_storage_domain(disk: Any) -> Any:
    domains = disk.storage_domains or []
    return domains[0].id if domains else None


def _cpu_threads(host: Any) -> int | None:
    """A host's hardware threads; None while its topology is unknown."""
    topology = host.cpu.topology if host.cpu is not None else None
    if topology is None:
        return None
    return (topology.sockets or 1) * (topology.cores or 1) * (topology.threads or 1)


def _first_data_center(domain: Any) -> Any:
    if domain.data_center is not None:
        return domain.data_center.id
    centers = domain.data_centers or []
    return centers[0].id if centers else None


data_centers = DocumentRepository(tables.data_centers, m.DataCenter, what="data center")
clusters = DocumentRepository(tables.clusters, m.Cluster, {"data_center_id": ref_id("data_center")})
hosts = DocumentRepository(
    tables.hosts,
    m.Host,
    {
        "cluster_id": ref_id("cluster"),
        "address": attr("address"),
        "port": attr("port"),
        "host_uuid": attr("hardware_information.uuid"),
        "memory": attr("memory"),
        "cpu_threads": _cpu_threads,
    },
)
storage_domains = DocumentRepository(
    tables.storage_domains,
    m.StorageDomain,
    {"data_center_id": _first_data_center, "path": attr("storage.path")},
    what="storage domain",
)
networks = DocumentRepository(tables.networks, m.Network, {"data_center_id": ref_id("data_center")})
vnic_profiles = DocumentRepository(
    tables.vnic_profiles, m.VnicProfile, {"network_id": ref_id("network")}, what="vNIC profile"
)
templates = DocumentRepository(tables.templates, m.Template, {"cluster_id": ref_id("cluster")})
vms = DocumentRepository(
    tables.vms,
    m.Vm,
    {
        "cluster_id": ref_id("cluster"),
        "template_id": ref_id("template"),
        "host_id": ref_id("host"),
        "memory": attr("memory"),
    },
    what="VM",
)
disks = DocumentRepository(
    tables.disks,
    m.Disk,
    {"storage_domain_id": _first_storage_domain, "provisioned_size": attr("provisioned_size")},
)
disk_attachments = DocumentRepository(
    tables.disk_attachments,
    m.DiskAttachment,
    {"vm_id": ref_id("vm"), "template_id": ref_id("template"), "disk_id": ref_id("disk")},
    what="disk attachment",
)
nics = DocumentRepository(
    tables.nics,
    m.Nic,
    {
        "vm_id": ref_id("vm"),
        "template_id": ref_id("template"),
        "vnic_profile_id": ref_id("vnic_profile"),
        "mac": attr("mac.address"),
    },
    what="NIC",
)
tags = DocumentRepository(tables.tags, m.Tag, {"parent_id": ref_id("parent")})
