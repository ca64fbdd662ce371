"""The engine's own certificates: its CA (which also signs host agents) and its HTTPS cert."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from pathlib import Path

from virtfleet.common.pki import (
    CertificateAuthority,
    certificate_names,
    write_private,
    write_public,
)

ENGINE_CERT = "engine.crt"
ENGINE_KEY = "engine.key"


@dataclass(frozen=True)
class EngineTls:
    ca: CertificateAuthority
    cert_file: Path
    key_file: Path


def _names(public_host: str | None, listen_host: str) -> list[str]:
    names = {"localhost", "127.0.0.1", "::1", socket.gethostname()}
    for extra in (public_host, listen_host):
        if extra and extra not in ("0.0.0.0", "::"):
            names.add(extra)
    return sorted(names, key=lambda n: (_is_ip(n), n))


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _covers(cert_file: Path, names: list[str]) -> bool:
    return set(names) <= certificate_names(cert_file.read_bytes())


def ensure_engine_tls(pki_dir: Path, *, public_host: str | None, listen_host: str) -> EngineTls:
    """Create the CA and the HTTPS certificate on first start; later starts reuse them, unless
    the configured public or listen name changed: then the certificate is issued again."""
    ca = CertificateAuthority.load_or_create(pki_dir)
    cert_file, key_file = pki_dir / ENGINE_CERT, pki_dir / ENGINE_KEY
    names = _names(public_host, listen_host)
    if not (cert_file.exists() and key_file.exists() and _covers(cert_file, names)):
        cert_pem, key_pem = ca.issue(names[0], sans=names, server=True, client=False)
        write_private(key_file, key_pem)
        write_public(cert_file, cert_pem)
    return EngineTls(ca=ca, cert_file=cert_file, key_file=key_file)
