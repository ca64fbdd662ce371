"""Storage on an agent: storage domain layout and volumes made with qemu-img."""

from .ops import StorageOps

__all__ = ["StorageOps"]
