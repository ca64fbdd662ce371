"""Live events for the portal and the CLI: Server-Sent Events fed by the event log."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

from virtfleet.common.errors import InvalidInput
from virtfleet.engine.api.codec import json as json_codec
from virtfleet.engine.api.routing import Authenticate
from virtfleet.engine.core.eventlog import EventLog

EVENTS_STREAM_PATH = "/ovirt-engine/services/events-stream"


def events_stream_route(eventlog: EventLog, authenticate: Authenticate) -> Route:
    async def handle(request: Request) -> StreamingResponse:
        await authenticate(request)
        raw = request.query_params.get("from") or request.headers.get("last-event-id") or "0"
        try:
            after = int(raw)
        except ValueError:
            raise InvalidInput(f"'from' must be an event id, not '{raw}'") from None

        async def frames() -> AsyncIterator[bytes]:
            yield b": virtfleet events\n\n"
            async for event in eventlog.subscribe(after):
                data = json.loads(json_codec.encode_object(event))
                yield f"id: {event.id}\nevent: event\ndata: {json.dumps(data)}\n\n".encode()

        return StreamingResponse(
            frames(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return Route(EVENTS_STREAM_PATH, handle, methods=["GET"])
