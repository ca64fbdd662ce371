"""Run one agent process: load its config, open the hypervisor driver, serve until signalled."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from virtfleet.agent.config import AgentConfig
from virtfleet.agent.identity import AgentIdentity
from virtfleet.agent.server import AgentServer
from virtfleet.common.logsetup import configure_logging

log = logging.getLogger(__name__)


def run_agent(config_path: Path) -> None:
    """Serve the agent described by ``config_path`` until SIGINT or SIGTERM, then stop cleanly."""
    config = AgentConfig.load(config_path)
    configure_logging(config.log_level)
    asyncio.run(_serve(config))


@asynccontextmanager
async def running_agent(config: AgentConfig) -> AsyncIterator[AgentServer]:
    """An agent serving ``config`` for the duration of the block (also used by ``virtfleet up``)."""
    # Imported here: the real driver and storage pull in libvirt and qemu-img tooling.
    from virtfleet.agent.hypervisor.factory import open_driver
    from virtfleet.agent.storage.ops import StorageOps

    identity = AgentIdentity.load_or_create(config.data_dir)
    driver = open_driver(config.driver_uri, host_uuid=identity.host_uuid, data_dir=config.data_dir)
    await asyncio.to_thread(driver.open)
    try:
        server = AgentServer(config, driver, StorageOps(), identity=identity)
        await server.start()
        try:
            yield server
        finally:
            await server.stop()
    finally:
        await asyncio.to_thread(driver.close)


async def _serve(config: AgentConfig) -> None:
    async with running_agent(config):
        await _wait_for_signal()
    log.info("agent stopped")


async def _wait_for_signal() -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
