"""The ``<cpu>`` element: topology, and the cluster CPU type's model and features, or the
host's CPU itself (``host-model``/``host-passthrough``)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from virtfleet.common.cputypes import ClusterCpuType

from .xmlbase import XmlElement, text_element


@dataclass(frozen=True)
class CpuTopology:
    sockets: int
    cores: int
    threads: int

    @property
    def vcpus(self) -> int:
        return self.sockets * self.cores * self.threads


@dataclass(frozen=True)
class Cpu(XmlElement):
    """``<cpu>``: the topology, and the cluster's exact model when the VM names one; a VM's own
    model (``custom_model``) replaces the cluster's, without its feature list; a host ``mode``
    replaces both with the host's CPU."""

    topology: CpuTopology
    cluster_type: ClusterCpuType | None = None
    custom_model: str | None = None
    mode: str | None = None

    def element(self) -> ET.Element:
        cpu = ET.Element("cpu")
        model = self.custom_model or (self.cluster_type.model if self.cluster_type else None)
        if self.mode is not None:
            cpu.set("mode", self.mode)
            model = None
        elif model is not None:
            cpu.set("mode", "custom")
            cpu.set("match", "exact")
            cpu.set("check", "partial")
            cpu.append(text_element("model", model, fallback="forbid"))
        ET.SubElement(
            cpu,
            "topology",
            sockets=str(self.topology.sockets),
            cores=str(self.topology.cores),
            threads=str(self.topology.threads),
        )
        if model is not None and self.cluster_type is not None and self.custom_model is None:
            for feature in self.cluster_type.features:
                policy = "require" if feature.startswith("+") else "disable"
                ET.SubElement(cpu, "feature", policy=policy, name=feature[1:])
        return cpu


def comparison_xml(cluster_type: ClusterCpuType) -> str:
    """The ``<cpu>`` document libvirt's CPU comparison takes for ``cluster_type``."""
    cpu = Cpu(CpuTopology(1, 1, 1), cluster_type).element()
    topology = cpu.find("topology")
    if topology is not None:
        cpu.remove(topology)
    return ET.tostring(cpu, encoding="unicode")
