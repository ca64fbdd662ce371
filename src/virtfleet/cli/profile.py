"""The login profile (URL, user, CA, token; never a password) and its environment overrides."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from virtfleet.cli.client import normalize_url
from virtfleet.common.errors import InvalidInput, NotAuthenticated

PROFILE_NAME = "cli.json"
CA_NAME = "ca.pem"
DEFAULT_USER = "admin@internal"


@dataclass(frozen=True)
class Profile:
    """What `virtfleet login` remembers between runs."""

    url: str
    user: str
    ca_file: str | None = None
    insecure: bool = False
    token: str | None = None


@dataclass(frozen=True)
class Connection:
    """The settings one run uses, after the environment has overridden the profile."""

    url: str
    user: str
    ca_file: str | None
    insecure: bool
    token: str | None
    password: str | None
    from_profile: bool


def config_dir(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "virtfleet"


def profile_path(env: Mapping[str, str]) -> Path:
    return config_dir(env) / PROFILE_NAME


def _write_private(path: Path, text: str, mode: int) -> None:
    """Write atomically, with ``mode`` from the start: no half-written or readable copy exists."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_profile(path: Path) -> Profile | None:
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Profile(
            url=str(data["url"]),
            user=str(data["user"]),
            ca_file=data.get("ca_file"),
            insecure=bool(data.get("insecure", False)),
            token=data.get("token"),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(f"{path} is not a valid profile ({exc}); run `virtfleet login`") from exc


def save_profile(path: Path, profile: Profile) -> None:
    _write_private(path, json.dumps(asdict(profile), indent=2) + "\n", 0o600)


def delete_profile(path: Path) -> bool:
    """Forget the profile and the CA stored next to it; tell whether there was a profile."""
    existed = path.exists()
    path.unlink(missing_ok=True)
    (path.parent / CA_NAME).unlink(missing_ok=True)
    return existed


def save_ca(directory: Path, pem: str) -> Path:
    path = directory / CA_NAME
    _write_private(path, pem, 0o644)
    return path


def ca_fingerprint(pem: str) -> str:
    """SHA-256 fingerprint of the certificate, as colon-separated hex, for the user to compare."""
    try:
        cert = x509.load_pem_x509_certificate(pem.encode())
    except ValueError as exc:
        raise InvalidInput(f"the CA certificate cannot be parsed: {exc}") from exc
    return ":".join(f"{byte:02X}" for byte in cert.fingerprint(hashes.SHA256()))


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def resolve_connection(profile: Profile | None, env: Mapping[str, str]) -> Connection:
    """Lay VIRTFLEET_URL/USER/PASSWORD/CA_FILE over the profile; a password means a fresh token."""
    env_url = env.get("VIRTFLEET_URL")
    if env_url:
        url = normalize_url(env_url)
    elif profile is not None:
        url = normalize_url(profile.url)
    else:
        raise NotAuthenticated(
            "run `virtfleet login URL --user USER` or set VIRTFLEET_URL", reason="Not logged in"
        )
    # The profile's CA and token only apply to the engine it was made for.
    same = profile if profile is not None and normalize_url(profile.url) == url else None
    user = env.get("VIRTFLEET_USER") or (same.user if same else DEFAULT_USER)
    password = env.get("VIRTFLEET_PASSWORD")
    token_usable = same is not None and same.user == user and password is None
    return Connection(
        url=url,
        user=user,
        ca_file=env.get("VIRTFLEET_CA_FILE") or (same.ca_file if same else None),
        insecure=_truthy(env.get("VIRTFLEET_INSECURE")) or bool(same and same.insecure),
        token=same.token if same is not None and token_usable else None,
        password=password,
        from_profile=token_usable,
    )
