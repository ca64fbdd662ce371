"""Node files for libvirt's test driver: each file given as ``test:///path`` is its own host.

libvirt keeps a private in-memory state per connection to a custom file, so every simulated
host gets its own file and its agent holds one connection to it.
"""

from __future__ import annotations

import os
import tempfile
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from virtfleet.common.errors import InvalidInput

_KIB = 1024


@dataclass(frozen=True)
class SimulatedNode:
    """The hardware of one simulated host."""

    sockets: int = 2
    cores: int = 4
    threads: int = 2
    memory_bytes: int = 16 * 1024**3
    cpu_mhz: int = 2400
    cpu_model: str = "x86_64"

    def to_xml(self) -> str:
        node = ET.Element("node")
        cpu = ET.SubElement(node, "cpu")
        for tag, value in (
            ("mhz", self.cpu_mhz),
            ("model", self.cpu_model),
            ("nodes", 1),
            ("sockets", self.sockets),
            ("cores", self.cores),
            ("threads", self.threads),
        ):
            ET.SubElement(cpu, tag).text = str(value)
        ET.SubElement(node, "memory").text = str(self.memory_bytes // _KIB)
        ET.indent(node, space="  ")
        return ET.tostring(node, encoding="unicode") + "\n"


def write_node_file(path: Path, node: SimulatedNode | None = None) -> str:
    """Write ``node`` to ``path`` atomically and return the ``test:///`` URI that opens it."""
    path = path.absolute()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write((node or SimulatedNode()).to_xml())
    os.replace(tmp, path)
    return f"test://{path}"


def default_node_path(host_uuid: str) -> Path:
    """Where the node file of the simulated host ``host_uuid`` lives by default."""
    try:
        canonical = str(uuid.UUID(host_uuid))
    except ValueError:
        raise InvalidInput(f"host UUID {host_uuid!r} is not a UUID") from None
    return Path(tempfile.gettempdir()) / "virtfleet-testdriver" / f"{canonical}.xml"
