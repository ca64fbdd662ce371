"""The engine's HTTP application: API routes from the resource table, SSO, PKI, OpenAPI."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from virtfleet.engine.api.auth import Authenticator, pki_route, sso_routes
from virtfleet.engine.api.consoles import console_routes
from virtfleet.engine.api.faults import EXCEPTION_HANDLERS
from virtfleet.engine.api.openapi import build_openapi
from virtfleet.engine.api.root import root_route
from virtfleet.engine.api.routing import API_PREFIX, ApiRouter
from virtfleet.engine.api.stream import events_stream_route
from virtfleet.engine.assembly import Engine

OPENAPI_PATH = f"{API_PREFIX}/openapi.json"
Lifespan = Callable[[Starlette], AbstractAsyncContextManager[None]]


def create_app(
    ctx: Engine,
    *,
    lifespan: Lifespan | None = None,
    extra_routes: list[BaseRoute] | None = None,
) -> Starlette:
    authenticator = Authenticator(ctx.auth)
    router = ApiRouter(ctx.services, authenticator)
    document = build_openapi(ctx.services)

    async def openapi(_request: Request) -> Response:
        return JSONResponse(document)

    async def health(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    routes: list[BaseRoute] = [
        *sso_routes(authenticator),
        pki_route(ctx.config.pki_dir / "ca.crt", ctx.config.pki_dir / "engine.crt"),
        Route(OPENAPI_PATH, openapi, methods=["GET"]),
        Route("/ovirt-engine/services/health", health, methods=["GET"]),
        root_route(ctx.root, router),
        events_stream_route(ctx.eventlog, authenticator),
        *console_routes(ctx.auth, ctx.consoles),
        *router.routes(),
        *(extra_routes or []),
    ]
    handlers: Any = EXCEPTION_HANDLERS
    app = Starlette(routes=routes, exception_handlers=handlers, lifespan=lifespan)
    app.state.ctx = ctx
    return app
