"""oVirt's cluster CPU types and the libvirt CPU model and features each one means."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from virtfleet.common.errors import InvalidInput

from .xmlbase import XmlElement, text_element


@dataclass(frozen=True)
class ClusterCpuType:
    """One cluster CPU type: every host in the cluster must run ``model`` with ``features``.

    A feature is ``+name`` (required) or ``-name`` (disabled), as oVirt writes them.
    """

    name: str
    vendor: str
    model: str
    features: tuple[str, ...] = ()


_SPECTRE = ("+spec-ctrl", "+ssbd", "+md-clear")
_NO_TSX = ("-hle", "-rtm")

_TYPES = (
    ClusterCpuType("Intel Nehalem Family", "Intel", "Nehalem"),
    ClusterCpuType("Secure Intel Nehalem Family", "Intel", "Nehalem", ("+spec-ctrl", "+ssbd")),
    ClusterCpuType("Intel Westmere Family", "Intel", "Westmere"),
    ClusterCpuType(
        "Secure Intel Westmere Family", "Intel", "Westmere", ("+pcid", "+spec-ctrl", "+ssbd")
    ),
    ClusterCpuType("Intel SandyBridge Family", "Intel", "SandyBridge"),
    ClusterCpuType("Secure Intel SandyBridge Family", "Intel", "SandyBridge", ("+pcid", *_SPECTRE)),
    ClusterCpuType("Intel IvyBridge Family", "Intel", "IvyBridge"),
    ClusterCpuType("Secure Intel IvyBridge Family", "Intel", "IvyBridge", ("+pcid", *_SPECTRE)),
    ClusterCpuType("Intel Haswell Family", "Intel", "Haswell-noTSX"),
    ClusterCpuType("Secure Intel Haswell Family", "Intel", "Haswell-noTSX", _SPECTRE),
    ClusterCpuType("Intel Broadwell Family", "Intel", "Broadwell-noTSX"),
    ClusterCpuType("Secure Intel Broadwell Family", "Intel", "Broadwell-noTSX", _SPECTRE),
    ClusterCpuType("Intel Skylake Client Family", "Intel", "Skylake-Client", _NO_TSX),
    ClusterCpuType(
        "Secure Intel Skylake Client Family", "Intel", "Skylake-Client", (*_SPECTRE, *_NO_TSX)
    ),
    ClusterCpuType("Intel Skylake Server Family", "Intel", "Skylake-Server", _NO_TSX),
    ClusterCpuType(
        "Secure Intel Skylake Server Family", "Intel", "Skylake-Server", (*_SPECTRE, *_NO_TSX)
    ),
    ClusterCpuType(
        "Intel Cascadelake Server Family",
        "Intel",
        "Cascadelake-Server",
        (*_NO_TSX, "+arch-capabilities"),
    ),
    ClusterCpuType(
        "Secure Intel Cascadelake Server Family",
        "Intel",
        "Cascadelake-Server",
        ("+md-clear", "+mds-no", *_NO_TSX, "+tsx-ctrl", "+arch-capabilities"),
    ),
    ClusterCpuType(
        "Intel Icelake Server Family",
        "Intel",
        "Icelake-Server",
        (*_NO_TSX, "+arch-capabilities"),
    ),
    ClusterCpuType(
        "Secure Intel Icelake Server Family",
        "Intel",
        "Icelake-Server",
        ("+md-clear", "+mds-no", *_NO_TSX, "+tsx-ctrl", "+arch-capabilities"),
    ),
    ClusterCpuType("AMD Opteron G4", "AMD", "Opteron_G4"),
    ClusterCpuType("AMD Opteron G5", "AMD", "Opteron_G5"),
    ClusterCpuType("AMD EPYC", "AMD", "EPYC"),
    ClusterCpuType("Secure AMD EPYC", "AMD", "EPYC", ("+ibpb", "+virt-ssbd")),
)

CLUSTER_CPU_TYPES: dict[str, ClusterCpuType] = {t.name: t for t in _TYPES}


def cluster_cpu_type(name: str) -> ClusterCpuType:
    """The entry for ``name``; an unknown name is the caller's mistake."""
    try:
        return CLUSTER_CPU_TYPES[name]
    except KeyError:
        raise InvalidInput(f"unknown cluster CPU type {name!r}") from None


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
    """``<cpu>``: the topology, and the cluster's exact model when the VM names one."""

    topology: CpuTopology
    cluster_type: ClusterCpuType | None = None

    def element(self) -> ET.Element:
        cpu = ET.Element("cpu")
        if self.cluster_type is not None:
            cpu.set("mode", "custom")
            cpu.set("match", "exact")
            cpu.set("check", "partial")
            cpu.append(text_element("model", self.cluster_type.model, fallback="forbid"))
        ET.SubElement(
            cpu,
            "topology",
            sockets=str(self.topology.sockets),
            cores=str(self.topology.cores),
            threads=str(self.topology.threads),
        )
        if self.cluster_type is not None:
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
