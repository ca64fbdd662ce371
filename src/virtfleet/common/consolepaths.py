"""Where the engine serves consoles over WebSocket: the engine routes them, the CLI dials them."""

from __future__ import annotations

CONSOLE_PREFIX = "/ovirt-engine/services/console"
VNC_CONSOLE_PREFIX = CONSOLE_PREFIX + "/vnc/"
SERIAL_CONSOLE_PREFIX = CONSOLE_PREFIX + "/serial/"
