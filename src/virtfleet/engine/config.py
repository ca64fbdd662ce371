"""Engine settings: where its data lives, how it listens, how it watches hosts.

``virtfleet engine --config FILE`` reads them from a TOML file (top-level keys named like the
fields; docs/install.md lists them); ``virtfleet up`` builds them from its options. Every field
takes effect; an unknown key or a bad value stops the start with a message naming it.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from virtfleet.common.errors import InvalidInput
from virtfleet.common.settingsfile import LogLevel, read_settings

DATABASE_URL_ENV = "VIRTFLEET_DATABASE_URL"

# psycopg 3 is the PostgreSQL driver virtfleet ships with; a plain libpq-style
# ``postgresql://`` URL means it rather than SQLAlchemy's psycopg2 default.
_DRIVERS = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg"}
_ACCEPTED = {"sqlite", "postgresql", "postgresql+psycopg"}


def normalize_database_url(url: str) -> str:
    """Check that ``url`` names SQLite or PostgreSQL and pin the driver virtfleet uses."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ValueError("not a database URL (e.g. postgresql://user:pw@db/virtfleet)") from None
    if parsed.drivername not in _ACCEPTED:
        raise ValueError(f"{parsed.drivername!r} is not supported: use sqlite or postgresql")
    driver = _DRIVERS.get(parsed.drivername, parsed.drivername)
    return parsed.set(drivername=driver).render_as_string(hide_password=False)


class EngineConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data_dir: Path = Field(description="State directory: the CA and certificates, SQLite file")
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL (sqlite:///... or postgresql://...); when absent "
        f"${DATABASE_URL_ENV}, else SQLite at <data_dir>/engine.db",
    )
    listen_host: str = Field("127.0.0.1", description="Address the HTTPS API listens on")
    port: int = Field(8443, ge=1, le=65535, description="Port of the HTTPS API")
    tls: bool = Field(True, description="Serve HTTPS; false only behind a TLS-terminating proxy")
    public_host: str | None = Field(
        None, description="Name clients use: in the HTTPS certificate and the printed URL"
    )
    host_heartbeat_interval_s: float = Field(
        3.0, gt=0, description="Seconds between heartbeats to each host's agent"
    )
    host_stats_interval_s: float = Field(
        15.0, gt=0, description="Seconds between host statistics saved to the database"
    )
    host_grace_s: float = Field(
        60.0, gt=0, description="Seconds without contact before a host goes non_responsive"
    )
    storage_monitor_interval_s: float = Field(
        30.0, gt=0, description="Seconds between looks of the hosts at their storage domains"
    )
    max_live_commands: int = Field(
        2000, ge=1, description="Unfinished commands the engine takes before new ones get a 503"
    )
    log_level: LogLevel = Field("INFO", description="DEBUG, INFO, WARNING or ERROR")

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        return None if value is None else normalize_database_url(value)

    @model_validator(mode="after")
    def _grace_outlasts_heartbeat(self) -> EngineConfig:
        if self.host_grace_s <= self.host_heartbeat_interval_s:
            raise ValueError("host_grace_s must be longer than host_heartbeat_interval_s")
        return self

    @property
    def effective_database_url(self) -> str:
        """The configured URL, else ``VIRTFLEET_DATABASE_URL``, else SQLite in the data dir."""
        from_env = os.environ.get(DATABASE_URL_ENV)
        if self.database_url:
            return self.database_url
        if from_env:
            try:
                return normalize_database_url(from_env)
            except ValueError as exc:
                raise InvalidInput(f"${DATABASE_URL_ENV}: {exc}") from None
        return f"sqlite:///{self.data_dir / 'engine.db'}"

    @property
    def pki_dir(self) -> Path:
        return self.data_dir / "pki"

    @classmethod
    def load(cls, path: Path) -> EngineConfig:
        return read_settings(cls, path, what="engine", path_keys=("data_dir",))
