"""The agent's serial console channel: one WebSocket per console, relaying raw bytes both ways.

The engine opens ``wss://host:54321/consoles/serial/<vm id>`` with its client certificate. The
console's output arrives from the driver's thread and leaves as binary frames; frames from the
engine are written to the guest's serial port. A console that cannot be opened closes the
WebSocket with the close code its error declares (``common.errors``: 4404 no such VM, 4409 not
running) and a reason that says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from virtfleet.agent.hypervisor.base import HypervisorDriver, SerialConsole
from virtfleet.common.errors import VirtfleetError

log = logging.getLogger(__name__)

_MAX_REASON = 120  # a close frame's reason must fit in 123 bytes


def close_code(error: Exception) -> int:
    """The close code ``error`` declares; anything else is a failure of no declared kind."""
    if isinstance(error, VirtfleetError):
        return error.close_code
    return VirtfleetError.close_code


async def refuse(ws: ServerConnection, error: VirtfleetError) -> None:
    reason = error.detail.encode()[:_MAX_REASON].decode(errors="ignore")
    await ws.close(close_code(error), reason)


async def relay_serial_console(ws: ServerConnection, driver: HypervisorDriver, vm_id: str) -> None:
    """Bridge ``ws`` and the VM's serial console until either side closes."""
    loop = asyncio.get_running_loop()
    output: asyncio.Queue[bytes] = asyncio.Queue()

    def on_output(data: bytes) -> None:
        # A closed loop means the agent is stopping: the relay is gone already.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(output.put_nowait, data)

    try:
        console = await asyncio.to_thread(driver.open_serial_console, vm_id, on_output)
    except VirtfleetError as exc:
        log.info("serial console refused vm_id=%s: %s", vm_id, exc.detail)
        await refuse(ws, exc)
        return
    try:
        await _pump(ws, console, output)
    finally:
        await asyncio.to_thread(console.close)
        await ws.close()
    log.info("serial console relay ended vm_id=%s", vm_id)


async def _pump(ws: ServerConnection, console: SerialConsole, output: asyncio.Queue[bytes]) -> None:
    async def to_engine() -> None:
        while data := await output.get():
            await ws.send(data)

    async def to_guest() -> None:
        async for message in ws:
            data = message.encode() if isinstance(message, str) else message
            await asyncio.to_thread(console.write, data)

    tasks = [asyncio.create_task(to_engine()), asyncio.create_task(to_guest())]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            error = task.exception()
            if error is not None and not isinstance(error, ConnectionClosed | VirtfleetError):
                raise error
            if isinstance(error, VirtfleetError):
                log.info("serial console relay stopped: %s", error.detail)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
