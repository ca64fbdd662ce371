"""Routes generated from the resource table: collections, entities, actions, sub-collections."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from virtfleet.common.apimodel import Action
from virtfleet.common.apimodel.base import ApiObject, ApiStruct
from virtfleet.common.apimodel.shape import shape_of
from virtfleet.common.errors import InvalidInput
from virtfleet.engine.api.codec.view import Link, View
from virtfleet.engine.api.negotiation import collection_response, object_response, read_body
from virtfleet.engine.api.resources import TABLE, ActionRoute, Op, Resource, top_level_paths
from virtfleet.engine.services.base import ListQuery, Options, ResourceService, Scope

API_PREFIX = "/ovirt-engine/api"
Handler = Callable[[Request], Awaitable[Response]]
Authenticate = Callable[[Request], Awaitable[object]]
_LIST_PARAMS = {"search", "max", "case_sensitive", "follow", "from", "all_content", "current"}


@dataclass(frozen=True)
class Located:
    """A resource reached through a chain of parents (``vms/{p0}/nics``)."""

    chain: tuple[Resource, ...]

    @property
    def resource(self) -> Resource:
        return self.chain[-1]

    def template(self) -> str:
        parts = []
        for depth, resource in enumerate(self.chain):
            parts.append(resource.segment)
            if depth < len(self.chain) - 1:
                parts.append(f"{{p{depth}}}")
        return API_PREFIX + "/" + "/".join(parts)

    def collection_href(self, parents: Sequence[str]) -> str:
        parts = []
        for depth, resource in enumerate(self.chain):
            parts.append(resource.segment)
            if depth < len(parents):
                parts.append(parents[depth])
        return API_PREFIX + "/" + "/".join(parts)


def _parse_max(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise InvalidInput(f"The 'max' parameter must be an integer, not '{raw}'") from None


def _parse_bool(name: str, raw: str | None, default: bool) -> bool:
    return Options({name: raw} if raw is not None else {}).flag(name, default)


def list_query(request: Request) -> ListQuery:
    params = request.query_params
    extra = {k: v for k, v in params.items() if k not in _LIST_PARAMS}
    return ListQuery(
        search=params.get("search") or None,
        max=_parse_max(params.get("max")),
        case_sensitive=_parse_bool("case_sensitive", params.get("case_sensitive"), True),
        from_id=params.get("from") or None,
        current=_parse_bool("current", params.get("current"), False),
        extra=extra,
    )


@dataclass(frozen=True)
class Followed:
    """An object reached while following links, with the ids of its parents in the URL."""

    parents: tuple[str, ...]
    obj: ApiObject


def _follow_paths(request: Request) -> list[list[str]]:
    raw = request.query_params.get("follow") or ""
    return [p.strip().split(".") for p in raw.split(",") if p.strip()]


class ApiRouter:
    """Builds handlers for every resource in the table against a registry of services."""

    def __init__(self, services: Mapping[str, ResourceService], authenticate: Authenticate):
        self.services = services
        self.authenticate = authenticate
        self.paths = top_level_paths()

    # --- views -----------------------------------------------------------------------------------

    def ref_href(self, obj: ApiObject) -> str | None:
        path = self.paths.get(type(obj))
        if path is None or obj.id is None:
            return None
        return f"{API_PREFIX}/{path}/{obj.id}"

    def view(self, located: Located, parents: Sequence[str], expand: frozenset[str]) -> View:
        base = located.collection_href(parents)
        resource = located.resource

        def own_href(obj: ApiObject) -> str | None:
            return f"{base}/{obj.id}" if obj.id is not None else None

        def links(obj: ApiStruct) -> list[Link]:
            if type(obj) is not resource.model:
                return []
            href = own_href(obj)
            return [(child.segment, f"{href}/{child.segment}") for child in resource.children]

        def actions(obj: ApiStruct) -> list[Link]:
            if type(obj) is not resource.model:
                return []
            href = own_href(obj)
            return [(action.name, f"{href}/{action.name}") for action in resource.actions]

        def href_of(obj: ApiObject) -> str | None:
            if type(obj) is resource.model:
                return own_href(obj)
            return self.ref_href(obj)

        return View(href_of=href_of, links_of=links, actions_of=actions, expand=expand)

    # --- follow ----------------------------------------------------------------------------------

    def _follow(self, located: Located, targets: Sequence[Followed], path: list[str]) -> None:
        """Inline a linked collection or a referenced object (``follow=disk_attachments.disk``)
        into every target at once: one call per level of the path, not one per object."""
        if not targets:
            return
        head, rest = path[0], path[1:]
        shape = shape_of(type(targets[0].obj)).get(head)
        if shape is None:
            raise InvalidInput(f"Cannot follow '{head}' from a {type(targets[0].obj).xml_tag}")
        child = next((c for c in located.resource.children if c.collection_tag == head), None)
        followed: list[Followed] = []
        if child is not None:
            child_located = Located((*located.chain, child))
            service = self.services[child.service]
            by_parents: dict[tuple[str, ...], list[ApiObject]] = {}
            for target in targets:
                if target.obj.id is not None:
                    by_parents.setdefault(target.parents, []).append(target.obj)
            for parents, objects in by_parents.items():
                found = service.list_children(parents, [o.id for o in objects if o.id])
                for obj in objects:
                    assert obj.id is not None
                    items = list(found.get(obj.id, ()))
                    setattr(obj, shape.name, items)
                    followed += [Followed((*parents, obj.id), item) for item in items]
        else:
            refs = [(t.obj, getattr(t.obj, shape.name)) for t in targets]
            refs = [(obj, ref) for obj, ref in refs if isinstance(ref, ApiObject) and ref.id]
            if not refs:
                return
            top = next((r for r in TABLE if r.model is type(refs[0][1])), None)
            if top is None:
                return
            child_located = Located((top,))
            wanted = sorted({ref.id for _, ref in refs if ref.id})
            objects_by_id = self.services[top.service].get_many(wanted)
            for obj, ref in refs:
                referenced = objects_by_id.get(ref.id or "")
                if referenced is not None:
                    setattr(obj, shape.name, referenced)
                    followed.append(Followed((), referenced))
        if rest:
            self._follow(child_located, followed, rest)

    def _apply_follow(
        self,
        located: Located,
        parents: tuple[str, ...],
        objects: Sequence[ApiObject],
        request: Request,
    ) -> frozenset[str]:
        paths = _follow_paths(request)
        for path in paths:
            self._follow(located, [Followed(parents, obj) for obj in objects], path)
        expanded = set()
        for path in paths:
            for depth in range(1, len(path) + 1):
                expanded.add(".".join(path[:depth]))
        return frozenset(expanded)

    # --- handlers --------------------------------------------------------------------------------

    @staticmethod
    def _parents(request: Request, located: Located) -> tuple[str, ...]:
        return tuple(request.path_params[f"p{d}"] for d in range(len(located.chain) - 1))

    def _service(self, located: Located) -> ResourceService:
        return self.services[located.resource.service]

    def list_handler(self, located: Located) -> Handler:
        async def handle(request: Request) -> Response:
            await self.authenticate(request)
            parents = self._parents(request, located)
            query = list_query(request)
            service = self._service(located)

            def work() -> tuple[Sequence[ApiObject], frozenset[str]]:
                items = service.list(Scope(parents), query)
                return items, self._apply_follow(located, parents, items, request)

            items, expand = await run_in_threadpool(work)
            resource = located.resource
            return collection_response(
                request,
                resource.collection_tag,
                resource.item_tag,
                items,
                self.view(located, parents, expand),
            )

        return handle

    def get_handler(self, located: Located) -> Handler:
        async def handle(request: Request) -> Response:
            await self.authenticate(request)
            parents = self._parents(request, located)
            service = self._service(located)

            options = Options(dict(request.query_params))

            def work() -> tuple[ApiObject, frozenset[str]]:
                obj = service.get_with_options(Scope(parents), request.path_params["id"], options)
                return obj, self._apply_follow(located, parents, [obj], request)

            obj, expand = await run_in_threadpool(work)
            return object_response(request, obj, self.view(located, parents, expand))

        return handle

    def add_handler(self, located: Located) -> Handler:
        async def handle(request: Request) -> Response:
            await self.authenticate(request)
            parents = self._parents(request, located)
            body = await read_body(request, located.resource.model)
            options = Options(dict(request.query_params))
            obj = await run_in_threadpool(self._service(located).add, Scope(parents), body, options)
            return object_response(
                request, obj, self.view(located, parents, frozenset()), status=201
            )

        return handle

    def update_handler(self, located: Located) -> Handler:
        async def handle(request: Request) -> Response:
            await self.authenticate(request)
            parents = self._parents(request, located)
            body = await read_body(request, located.resource.model)
            options = Options(dict(request.query_params))
            obj = await run_in_threadpool(
                self._service(located).update_with_options,
                Scope(parents),
                request.path_params["id"],
                body,
                options,
            )
            return object_response(request, obj, self.view(located, parents, frozenset()))

        return handle

    def remove_handler(self, located: Located) -> Handler:
        async def handle(request: Request) -> Response:
            await self.authenticate(request)
            parents = self._parents(request, located)
            options = Options(dict(request.query_params))
            await run_in_threadpool(
                self._service(located).remove, Scope(parents), request.path_params["id"], options
            )
            return Response(status_code=200)

        return handle

    def action_handler(self, located: Located, route: ActionRoute) -> Handler:
        service = self._service(located)

        async def handle(request: Request) -> Response:
            await self.authenticate(request)
            parents = self._parents(request, located)
            action = await read_body(request, Action, tag="action")
            result = await run_in_threadpool(
                route.method, service, Scope(parents), request.path_params["id"], action
            )
            return object_response(request, result, self.view(located, parents, frozenset()))

        return handle

    # --- route table -----------------------------------------------------------------------------

    def routes(self) -> list[Route]:
        routes: list[Route] = []
        for resource in TABLE:
            routes.extend(self._routes_for(Located((resource,))))
        return routes

    def _routes_for(self, located: Located) -> list[Route]:
        resource = located.resource
        service = self.services.get(resource.service)
        if service is None:
            raise RuntimeError(f"no service '{resource.service}' for /{located.template()}")
        collection = located.template()
        entity = collection + "/{id}"
        ops = resource.ops
        routes: list[Route] = []
        collection_methods: dict[str, Handler] = {}
        if Op.LIST in ops:
            collection_methods["GET"] = self.list_handler(located)
        if Op.ADD in ops:
            collection_methods["POST"] = self.add_handler(located)
        if collection_methods:
            routes.append(_route(collection, collection_methods))
        entity_methods: dict[str, Handler] = {}
        if Op.GET in ops:
            entity_methods["GET"] = self.get_handler(located)
        if Op.UPDATE in ops:
            entity_methods["PUT"] = self.update_handler(located)
        if Op.REMOVE in ops:
            entity_methods["DELETE"] = self.remove_handler(located)
        if entity_methods:
            routes.append(_route(entity, entity_methods))
        for action in resource.actions:
            if not action.serves(service):
                raise RuntimeError(
                    f"{type(service).__name__} has no '{action.method.__name__}' for "
                    f"{entity}/{action.name}"
                )
            routes.append(
                _route(f"{entity}/{action.name}", {"POST": self.action_handler(located, action)})
            )
        for child in resource.children:
            routes.extend(self._routes_for(Located((*located.chain, child))))
        return routes


def _route(path: str, methods: dict[str, Handler]) -> Route:
    async def dispatch(request: Request) -> Response:
        # HEAD is GET without the body (the server sends the headers only)
        handler = methods.get("GET" if request.method == "HEAD" else request.method)
        if handler is None:
            from starlette.exceptions import HTTPException

            raise HTTPException(405, f"{request.method} is not supported on {request.url.path}")
        return await handler(request)

    return Route(path, dispatch, methods=[*methods, "HEAD"] if "GET" in methods else list(methods))
