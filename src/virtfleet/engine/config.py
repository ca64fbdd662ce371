"""Engine settings: where its data lives, how it listens, how it watches hosts."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from virtfleet.common.errors import InvalidInput

DATABASE_URL_ENV = "VIRTFLEET_DATABASE_URL"


class EngineConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data_dir: Path
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; SQLite in the data dir when absent"
    )
    listen_host: str = "127.0.0.1"
    port: int = 8443
    tls: bool = True
    public_host: str | None = Field(None, description="Name or address clients use (for the cert)")
    host_heartbeat_interval_s: float = 3.0
    host_stats_interval_s: float = 15.0
    host_grace_s: float = 60.0
    storage_monitor_interval_s: float = Field(
        30.0, gt=0, description="How often the hosts look at their data center's storage domains"
    )
    storage_dir: Path | None = None

    @property
    def effective_database_url(self) -> str:
        """The configured URL, else ``VIRTFLEET_DATABASE_URL``, else SQLite in the data dir."""
        return (
            self.database_url
            or os.environ.get(DATABASE_URL_ENV)
            or f"sqlite:///{self.data_dir / 'engine.db'}"
        )

    @property
    def pki_dir(self) -> Path:
        return self.data_dir / "pki"

    @classmethod
    def load(cls, path: Path) -> EngineConfig:
        try:
            data = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise InvalidInput(f"Cannot read the engine config {path}: {exc}") from None
        return cls.model_validate(data.get("engine", data))
