"""The agent's settings, read from one TOML file (top-level keys named like the fields)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from virtfleet.common.errors import InvalidInput
from virtfleet.common.protocol import DEFAULT_AGENT_PORT


class AgentConfig(BaseModel):
    """What one agent needs to run; several may share a process (simulated hosts)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    listen_host: str = "0.0.0.0"
    port: int = Field(default=DEFAULT_AGENT_PORT, ge=0, le=65535, description="0 = ephemeral")
    data_dir: Path
    driver_uri: str = "qemu:///system"
    enrollment_secret: str | None = None
    stats_interval_s: float = Field(default=15.0, gt=0)
    storage_root: Path | None = None

    @classmethod
    def load(cls, path: Path) -> AgentConfig:
        """Read a TOML file; relative paths in it are taken relative to the file's directory."""
        try:
            raw = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise InvalidInput(f"cannot read agent config {path}: {e}") from e
        for key in ("data_dir", "storage_root"):
            value = raw.get(key)
            if isinstance(value, str):
                raw[key] = str(path.parent / Path(value).expanduser())
        try:
            return cls.model_validate(raw)
        except ValidationError as e:
            raise InvalidInput(f"invalid agent config {path}: {e}") from e
