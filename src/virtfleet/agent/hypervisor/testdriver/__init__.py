"""Simulated hosts on libvirt's test driver."""

from .node import SimulatedNode, default_node_path, write_node_file

__all__ = ["SimulatedNode", "default_node_path", "write_node_file"]
