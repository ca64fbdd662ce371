"""Choose and build the hypervisor driver for a libvirt URI from the agent's configuration."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from virtfleet.agent.hypervisor.base import HypervisorDriver
from virtfleet.agent.hypervisor.libvirt import LibvirtDriver
from virtfleet.agent.hypervisor.libvirt.kvmprobe import KvmProbe
from virtfleet.agent.hypervisor.testdriver import default_node_path, write_node_file

_SHARED_TEST_PATHS = {"", "/", "/default"}


def open_driver(
    uri: str, *, host_uuid: str, data_dir: Path | None = None, probe: KvmProbe | None = None
) -> HypervisorDriver:
    """An unopened driver for ``uri``; the caller calls ``open()``.

    ``test:///default`` is one state shared by the whole process, so it becomes a private node
    file per ``host_uuid``; a ``test:///path/to/node.xml`` URI is used as it is. A local libvirt
    runs guests under KVM only when a probe guest booted under it (answer cached in ``data_dir``);
    a remote one is not this machine's to probe, so its guests get TCG. Cloud-init seeds are
    written under ``data_dir`` (a temporary directory without one).
    """
    parts = urlsplit(uri)
    seeds = None if data_dir is None else data_dir / "seeds"
    if parts.scheme != "test":
        if parts.netloc:
            return LibvirtDriver(uri, seed_dir=seeds)
        probe = probe or KvmProbe(data_dir)
        return LibvirtDriver(uri, domain_type=probe.domain_type(), seed_dir=seeds)
    if parts.path in _SHARED_TEST_PATHS:
        uri = write_node_file(default_node_path(host_uuid))
    return LibvirtDriver(uri, host_uuid=host_uuid, seed_dir=seeds)
