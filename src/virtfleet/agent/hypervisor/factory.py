"""Choose and build the hypervisor driver for a libvirt URI from the agent's configuration."""

from __future__ import annotations

from urllib.parse import urlsplit

from virtfleet.agent.hypervisor.base import HypervisorDriver
from virtfleet.agent.hypervisor.libvirt import LibvirtDriver
from virtfleet.agent.hypervisor.testdriver import default_node_path, write_node_file

_SHARED_TEST_PATHS = {"", "/", "/default"}


def open_driver(uri: str, *, host_uuid: str) -> HypervisorDriver:
    """An unopened driver for ``uri``; the caller calls ``open()``.

    ``test:///default`` is one state shared by the whole process, so it becomes a private node
    file per ``host_uuid``; a ``test:///path/to/node.xml`` URI is used as it is.
    """
    parts = urlsplit(uri)
    if parts.scheme != "test":
        return LibvirtDriver(uri)
    if parts.path in _SHARED_TEST_PATHS:
        uri = write_node_file(default_node_path(host_uuid))
    return LibvirtDriver(uri, host_uuid=host_uuid)
