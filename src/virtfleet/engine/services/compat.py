"""Versions this engine speaks: the compatibility level of data centers and clusters."""

from __future__ import annotations

from virtfleet.common.apimodel import Version

COMPATIBILITY_VERSION = Version(major=4, minor=7)
SUPPORTED_VERSIONS = [Version(major=4, minor=6), Version(major=4, minor=7)]
PRODUCT_VERSION = Version(major=4, minor=5, build=0, revision=0, full_version="4.5.0-virtfleet")
