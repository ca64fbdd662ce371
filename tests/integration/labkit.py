"""Pieces every in-process lab shares: a seeded engine, its API client, status polling."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from virtfleet.engine.api.app import create_app
from virtfleet.engine.assembly import Engine, build_engine
from virtfleet.engine.bootstrap import seed_defaults
from virtfleet.engine.config import EngineConfig
from virtfleet.engine.monitoring.connections import HostConnections

LOOPBACK = "127.0.0.1"
API = "/ovirt-engine/api"
ADMIN_PASSWORD = "password"


def seeded_engine(config: EngineConfig, connections: HostConnections | None = None) -> Engine:
    """An engine with the default data center and the admin user, not started yet."""
    ctx = build_engine(config, connections=connections)
    seed_defaults(ctx.database, ctx.clock)
    ctx.auth.ensure_admin(ADMIN_PASSWORD)
    return ctx


def api_client(ctx: Engine) -> httpx.AsyncClient:
    """An in-process client for the engine's API, logged in as admin, speaking JSON."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(ctx)),
        base_url="http://engine",
        auth=("admin@internal", ADMIN_PASSWORD),
        headers={"Accept": "application/json", "Content-Type": "application/json"},
    )


async def poll_status(
    fetch: Callable[[], Awaitable[dict[str, Any]]], wanted: str, timeout: float, what: str
) -> dict[str, Any]:
    """Fetch until the object's status is ``wanted``; fail naming ``what`` and where it stayed."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found = await fetch()
        if found.get("status") == wanted:
            return found
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what} stayed {found.get('status')}, wanted {wanted}")
        await asyncio.sleep(0.05)
