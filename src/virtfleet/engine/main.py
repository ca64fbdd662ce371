"""``virtfleet engine``: build the container, bring the schema up to date, serve HTTPS."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import secrets
import signal
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import uvicorn
from starlette.applications import Starlette

from virtfleet.common.logsetup import configure_logging
from virtfleet.engine.api.app import create_app
from virtfleet.engine.assembly import Engine, build_engine
from virtfleet.engine.bootstrap import seed_defaults
from virtfleet.engine.config import EngineConfig
from virtfleet.engine.core.eventlog import EventCode
from virtfleet.engine.tls import EngineTls, ensure_engine_tls

log = logging.getLogger(__name__)

ADMIN_PASSWORD_ENV = "VIRTFLEET_ADMIN_PASSWORD"


def prepare(config: EngineConfig) -> tuple[Engine, EngineTls, str | None]:
    """Everything before serving; returns the admin password when it was generated now."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    tls = ensure_engine_tls(
        config.pki_dir, public_host=config.public_host, listen_host=config.listen_host
    )
    ctx = build_engine(config)
    seed_defaults(ctx.database, ctx.clock)
    password = os.environ.get(ADMIN_PASSWORD_ENV)
    generated = None
    if not password:
        password = generated = secrets.token_urlsafe(12)
    created = ctx.auth.ensure_admin(password)
    if not created:
        if os.environ.get(ADMIN_PASSWORD_ENV):
            ctx.auth.set_password("admin", password)  # the environment is the source of truth
        generated = None
    return ctx, tls, generated


def tune_garbage_collector() -> None:
    """Keep collector pauses out of request latency.

    Every reply allocates thousands of short-lived model objects; with CPython's default
    thresholds the resulting full collections walk the whole (large, long-lived) heap and add
    tens of milliseconds to a request now and then. Objects alive after start-up are frozen out
    of collection and the young generation is allowed to grow before it is scanned.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)


def _lifespan(ctx: Engine) -> Callable[[Starlette], AsyncIterator[None]]:
    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await ctx.start()
        await asyncio.to_thread(_record_start, ctx)
        try:
            yield
        finally:
            await ctx.stop()

    return lifespan  # type: ignore[return-value]


def _record_start(ctx: Engine) -> None:
    with ctx.database.transaction() as conn:
        ctx.eventlog.record(
            conn,
            code=EventCode.ENGINE_STARTED,
            severity="normal",
            description="Starting up the virtfleet engine",
        )


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGINT/SIGTERM after its graceful shutdown, which would kill the
    process before ``virtfleet up`` stops its agents; here a signal only ends serving."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        originals = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in originals.items():
                signal.signal(sig, handler)


async def serve(
    ctx: Engine,
    tls: EngineTls,
    *,
    on_ready: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM; ``on_ready`` runs once the port is open."""
    config = ctx.config
    app = create_app(ctx, lifespan=_lifespan(ctx))  # type: ignore[arg-type]
    server_config = uvicorn.Config(
        app,
        host=config.listen_host,
        port=config.port,
        ssl_certfile=str(tls.cert_file) if config.tls else None,
        ssl_keyfile=str(tls.key_file) if config.tls else None,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    server = _Server(server_config)
    tune_garbage_collector()

    async def announce() -> None:
        while not server.started:
            if server.should_exit:
                return
            await asyncio.sleep(0.05)
        if on_ready is not None:
            try:
                await on_ready()
            except Exception:
                log.exception("start-up work after the engine came up failed")

    watcher = asyncio.create_task(announce())
    try:
        await server.serve()
    finally:
        watcher.cancel()


def engine_url(config: EngineConfig) -> str:
    host = config.public_host or (
        "localhost" if config.listen_host in ("0.0.0.0", "127.0.0.1", "::") else config.listen_host
    )
    scheme = "https" if config.tls else "http"
    return f"{scheme}://{host}:{config.port}/ovirt-engine/api"


def run_engine(config_path: Path) -> None:
    config = EngineConfig.load(config_path)
    configure_logging(config.log_level)
    ctx, tls, generated = prepare(config)
    if generated:
        print(f"admin@internal password (shown once): {generated}", flush=True)
    print(f"virtfleet engine at {engine_url(config)}", flush=True)
    asyncio.run(serve(ctx, tls))
