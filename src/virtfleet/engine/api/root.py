"""``GET /ovirt-engine/api``: the entry document with links to every collection."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from virtfleet.common.apimodel.base import ApiStruct
from virtfleet.engine.api.codec.view import Link, View
from virtfleet.engine.api.negotiation import object_response
from virtfleet.engine.api.resources import TABLE
from virtfleet.engine.api.routing import API_PREFIX, ApiRouter
from virtfleet.engine.services.auth import Principal
from virtfleet.engine.services.system import RootService


def root_links() -> list[Link]:
    links: list[Link] = []
    for resource in TABLE:
        href = f"{API_PREFIX}/{resource.segment}"
        links.append((resource.segment, href))
        links.append((f"{resource.segment}/search", f"{href}?search={{query}}"))
    return links


def root_route(root: RootService, router: ApiRouter) -> Route:
    links = root_links()

    def links_of(_obj: ApiStruct) -> list[Link]:
        return links

    async def handle(request: Request) -> Response:
        principal = await router.authenticate(request)
        assert isinstance(principal, Principal)
        api = await run_in_threadpool(root.describe, principal)
        view = View(href_of=router.ref_href, links_of=links_of)
        return object_response(request, api, view)

    return Route(API_PREFIX, handle, methods=["GET", "HEAD"])
