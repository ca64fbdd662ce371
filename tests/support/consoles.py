"""Test support for consoles: the engine served over real HTTP (WebSockets need a server), and
a minimal RFB client that completes the VNC handshake, password authentication included."""

from __future__ import annotations

import asyncio
import contextlib
import os
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass
from io import BytesIO

import httpx
import uvicorn
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes
from websockets.asyncio.client import ClientConnection

from support.ports import LOOPBACK
from virtfleet.cli.serialconsole import console_url, relay_console
from virtfleet.engine.api.app import create_app
from virtfleet.engine.assembly import Engine

RFB_VERSION = b"RFB 003.008\n"
SECURITY_VNC_AUTH = 2
_START_S = 10.0


@contextlib.asynccontextmanager
async def served(ctx: Engine) -> AsyncIterator[str]:
    """The started engine ``ctx`` on a loopback port until the block ends; yields its base URL."""
    config = uvicorn.Config(create_app(ctx), host=LOOPBACK, port=0, lifespan="off", log_config=None)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(int(_START_S / 0.02)):
            if server.started or task.done():
                break
            await asyncio.sleep(0.02)
        if not server.started:
            raise RuntimeError("the engine's HTTP server did not start")
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://{LOOPBACK}:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, _START_S)


async def sso_token(base_url: str, password: str, user: str = "admin@internal") -> str:
    form = {"grant_type": "password", "scope": "ovirt-app-api", "username": user}
    async with httpx.AsyncClient(base_url=base_url) as http:
        reply = await http.post(
            "/ovirt-engine/sso/oauth/token", data={**form, "password": password}
        )
    reply.raise_for_status()
    return str(reply.json()["access_token"])


def vnc_auth_response(password: str | bytes, challenge: bytes) -> bytes:
    """VNC authentication: DES of the challenge keyed by the password's first 8 bytes, each
    byte's bits reversed (RFB 7.2.2); DES is triple DES with one key three times."""
    secret = password.encode() if isinstance(password, str) else password
    key = secret[:8].ljust(8, b"\0")
    key = bytes(int(f"{byte:08b}"[::-1], 2) for byte in key)
    encryptor = Cipher(TripleDES(key * 3), modes.ECB()).encryptor()
    return encryptor.update(challenge) + encryptor.finalize()


class RfbError(Exception):
    """The VNC server refused the handshake; the message is its reason."""


@dataclass(frozen=True)
class ServerInit:
    width: int
    height: int
    name: str


class RfbStream:
    """Exact reads over WebSocket frames, which may split or merge RFB messages at will."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.buffer = b""

    async def read(self, size: int) -> bytes:
        while len(self.buffer) < size:
            message = await self.ws.recv()
            self.buffer += message if isinstance(message, bytes) else message.encode()
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    async def u32(self) -> int:
        value: int = struct.unpack(">I", await self.read(4))[0]
        return value

    async def reason(self) -> str:
        return (await self.read(await self.u32())).decode(errors="replace")


async def rfb_handshake(ws: ClientConnection, password: str) -> ServerInit:
    """RFB 3.8 up to ServerInit with VNC authentication; RfbError when the server refuses."""
    rfb = RfbStream(ws)
    version = await rfb.read(12)
    if not version.startswith(b"RFB "):
        raise RfbError(f"not an RFB server: {version!r}")
    await ws.send(RFB_VERSION)
    count = (await rfb.read(1))[0]
    if count == 0:
        raise RfbError(await rfb.reason())
    types = await rfb.read(count)
    if SECURITY_VNC_AUTH not in types:
        raise RfbError(f"the server offers no VNC authentication: {list(types)}")
    await ws.send(bytes([SECURITY_VNC_AUTH]))
    challenge = await rfb.read(16)
    await ws.send(vnc_auth_response(password, challenge))
    if await rfb.u32() != 0:
        raise RfbError(await rfb.reason())
    await ws.send(b"\x01")  # ClientInit: shared
    width, height = struct.unpack(">HH", await rfb.read(4))
    await rfb.read(16)  # pixel format
    name = (await rfb.read(await rfb.u32())).decode(errors="replace")
    return ServerInit(width, height, name)


async def relayed_output(
    base_url: str, vm_id: str, token: str, *, send: bytes, timeout: float
) -> bytes:
    """What ``virtfleet vm console`` prints, not on a terminal, when ``send`` is its input and it
    relays for ``timeout`` seconds."""
    read_end, write_end = os.pipe()
    out = BytesIO()
    try:
        os.write(write_end, send)
        await asyncio.to_thread(
            relay_console,
            console_url(base_url, vm_id),
            token,
            context=None,
            input_fd=read_end,
            output=out,
            interactive=False,
            timeout=timeout,
        )
    finally:
        os.close(write_end)
        os.close(read_end)
    return out.getvalue()
