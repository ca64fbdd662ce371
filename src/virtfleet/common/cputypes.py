"""oVirt's cluster CPU types: the names clients choose from, and the CPU model and features each
one means, so the engine can refuse a name no host could run and the agent can build the model."""

from __future__ import annotations

from dataclasses import dataclass

from virtfleet.common.errors import InvalidInput


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
    # The oldest types left oVirt's newest cluster levels, but scripts still name them (the SDK's
    # own add_cluster example asks for Conroe).
    ClusterCpuType("Intel Conroe Family", "Intel", "Conroe"),
    ClusterCpuType("Intel Penryn Family", "Intel", "Penryn"),
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
    ClusterCpuType("AMD Opteron G1", "AMD", "Opteron_G1"),
    ClusterCpuType("AMD Opteron G2", "AMD", "Opteron_G2"),
    ClusterCpuType("AMD Opteron G3", "AMD", "Opteron_G3"),
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
        known = ", ".join(CLUSTER_CPU_TYPES)
        message = f"Unknown cluster CPU type {name!r}; the known types are: {known}"
        raise InvalidInput(message) from None


# libvirt's x86 CPU model names (its cpu_map), which a VM may name as its ``custom_cpu_model``.
LIBVIRT_X86_MODELS = frozenset(
    [
        "486",
        "Broadwell",
        "Broadwell-IBRS",
        "Broadwell-noTSX",
        "Broadwell-noTSX-IBRS",
        "Cascadelake-Server",
        "Cascadelake-Server-noTSX",
        "Conroe",
        "Cooperlake",
        "Dhyana",
        "EPYC",
        "EPYC-IBPB",
        "EPYC-Milan",
        "EPYC-Rome",
        "Haswell",
        "Haswell-IBRS",
        "Haswell-noTSX",
        "Haswell-noTSX-IBRS",
        "Icelake-Client",
        "Icelake-Client-noTSX",
        "Icelake-Server",
        "Icelake-Server-noTSX",
        "IvyBridge",
        "IvyBridge-IBRS",
        "Nehalem",
        "Nehalem-IBRS",
        "Opteron_G1",
        "Opteron_G2",
        "Opteron_G3",
        "Opteron_G4",
        "Opteron_G5",
        "Penryn",
        "SandyBridge",
        "SandyBridge-IBRS",
        "Skylake-Client",
        "Skylake-Client-IBRS",
        "Skylake-Client-noTSX-IBRS",
        "Skylake-Server",
        "Skylake-Server-IBRS",
        "Skylake-Server-noTSX-IBRS",
        "Snowridge",
        "Westmere",
        "Westmere-IBRS",
        "athlon",
        "core2duo",
        "coreduo",
        "cpu64-rhel5",
        "cpu64-rhel6",
        "kvm32",
        "kvm64",
        "n270",
        "pentium",
        "pentium2",
        "pentium3",
        "pentiumpro",
        "phenom",
        "qemu32",
        "qemu64",
    ]
)
