"""The libvirt hypervisor driver: the only package that imports the ``libvirt`` binding."""

from .driver import LibvirtDriver

__all__ = ["LibvirtDriver"]
