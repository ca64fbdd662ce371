"""The built-in administrator, as oVirt names it (``admin@internal``)."""

from __future__ import annotations

INTERNAL_DOMAIN = "internal"
ADMIN_NAME = "admin"
ADMIN_USER = f"{ADMIN_NAME}@{INTERNAL_DOMAIN}"
