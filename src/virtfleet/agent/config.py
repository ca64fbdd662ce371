"""The agent's settings, read from one TOML file (top-level keys named like the fields).

docs/install.md lists them; every field takes effect, and an unknown key or a bad value stops
the start with a message naming it.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from virtfleet.common.protocol import DEFAULT_AGENT_PORT
from virtfleet.common.settingsfile import LogLevel, read_settings


class AgentConfig(BaseModel):
    """What one agent needs to run; several may share a process (simulated hosts)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    listen_host: str = Field("0.0.0.0", description="Address the engine connects to")
    port: int = Field(
        default=DEFAULT_AGENT_PORT, ge=0, le=65535, description="Agent port (0 = ephemeral)"
    )
    data_dir: Path = Field(description="The host's identity, certificates and VM files")
    driver_uri: str = Field(
        "qemu:///system", description="libvirt URI of the hypervisor this agent drives"
    )
    enrollment_secret: str | None = Field(
        None, description="Secret the engine gives when the host is added; absent: no enrollment"
    )
    stats_interval_s: float = Field(
        default=15.0, gt=0, description="Seconds between host and VM statistics pushes"
    )
    log_level: LogLevel = Field("INFO", description="DEBUG, INFO, WARNING or ERROR")

    @classmethod
    def load(cls, path: Path) -> AgentConfig:
        """Read a TOML file; relative paths in it are taken relative to the file's directory."""
        return read_settings(cls, path, what="agent", path_keys=("data_dir",))
