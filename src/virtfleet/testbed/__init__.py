"""Simulated hosts on one machine (network namespaces, a libvirtd each) and a tiny guest image."""

from virtfleet.testbed.hosts import HostStatus, Testbed, TestbedHost
from virtfleet.testbed.image import GuestImage, build_guest_image, thin_clone
from virtfleet.testbed.proc import TestbedError

__all__ = [
    "GuestImage",
    "HostStatus",
    "Testbed",
    "TestbedError",
    "TestbedHost",
    "build_guest_image",
    "thin_clone",
]
