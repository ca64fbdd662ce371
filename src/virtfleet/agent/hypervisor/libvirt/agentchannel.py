"""The virtio-serial port qemu-guest-agent listens on inside the guest."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from .xmlbase import XmlElement

GUEST_AGENT_PORT = "org.qemu.guest_agent.0"


@dataclass(frozen=True)
class GuestAgentChannel(XmlElement):
    """A unix socket on the host whose path libvirt chooses; libvirt itself speaks to the agent
    through it (``guestInfo``, ``interfaceAddresses``, agent shutdown)."""

    def element(self) -> ET.Element:
        node = ET.Element("channel", type="unix")
        ET.SubElement(node, "target", type="virtio", name=GUEST_AGENT_PORT)
        return node
