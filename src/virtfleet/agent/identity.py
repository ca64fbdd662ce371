"""Who this agent is, kept in its data dir: host uuid, bootstrap and enrolled certificates.

Files: ``host_uuid``; ``bootstrap.crt``/``bootstrap.key`` (self-signed, used until enrolled);
``agent.crt``/``agent.key`` (signed by the engine CA) and ``engine-ca.crt`` once enrolled.
"""

from __future__ import annotations

import logging
import socket
import threading
import uuid
from pathlib import Path

from virtfleet.common import pki
from virtfleet.common.errors import Conflict, InvalidInput

log = logging.getLogger(__name__)

HOST_UUID_FILE = "host_uuid"
BOOTSTRAP_CERT_FILE = "bootstrap.crt"
BOOTSTRAP_KEY_FILE = "bootstrap.key"
AGENT_CERT_FILE = "agent.crt"
AGENT_KEY_FILE = "agent.key"
ENGINE_CA_FILE = "engine-ca.crt"


class AgentIdentity:
    """The agent's persisted identity and the key of an enrollment in progress (memory only)."""

    def __init__(self, data_dir: Path, host_uuid: str) -> None:
        self.data_dir = data_dir
        self.host_uuid = host_uuid
        self._pending_key: bytes | None = None
        self._lock = threading.Lock()

    @classmethod
    def load_or_create(cls, data_dir: Path) -> AgentIdentity:
        data_dir.mkdir(parents=True, exist_ok=True)
        uuid_path = data_dir / HOST_UUID_FILE
        if uuid_path.exists():
            host_uuid = str(uuid.UUID(uuid_path.read_text().strip()))
        else:
            host_uuid = str(uuid.uuid4())
            pki.write_public(uuid_path, host_uuid.encode() + b"\n")
        identity = cls(data_dir, host_uuid)
        identity._ensure_bootstrap_cert()
        return identity

    @property
    def hostname(self) -> str:
        return socket.gethostname()

    @property
    def cert_file(self) -> Path:
        return self.data_dir / AGENT_CERT_FILE

    @property
    def key_file(self) -> Path:
        return self.data_dir / AGENT_KEY_FILE

    @property
    def ca_file(self) -> Path:
        return self.data_dir / ENGINE_CA_FILE

    @property
    def bootstrap_cert_file(self) -> Path:
        return self.data_dir / BOOTSTRAP_CERT_FILE

    @property
    def bootstrap_key_file(self) -> Path:
        return self.data_dir / BOOTSTRAP_KEY_FILE

    @property
    def enrolled(self) -> bool:
        """True when a CA, a certificate it signed and the matching key are all on disk."""
        files = (self.cert_file, self.key_file, self.ca_file)
        if not all(f.exists() for f in files):
            return False
        cert_pem = self.cert_file.read_bytes()
        return pki.cert_matches_key(cert_pem, self.key_file.read_bytes()) and pki.is_issued_by(
            cert_pem, self.ca_file.read_bytes()
        )

    def begin_enrollment(self) -> bytes:
        """Make a fresh key (kept in memory until completion) and return a CSR for it."""
        key_pem, csr_pem = pki.make_key_and_csr(self.host_uuid)
        with self._lock:
            self._pending_key = key_pem
        return csr_pem

    def complete_enrollment(self, ca_pem: bytes, cert_pem: bytes) -> None:
        """Check the signed certificate against the pending key and CA, then persist all three."""
        with self._lock:
            key_pem = self._pending_key
            if key_pem is None:
                raise Conflict("no enrollment in progress: call Host.requestEnrollment first")
            if not pki.cert_matches_key(cert_pem, key_pem):
                raise InvalidInput("the certificate is not for the key of this enrollment")
            if not pki.is_issued_by(cert_pem, ca_pem):
                raise InvalidInput("the certificate was not signed by the given CA")
            pki.write_private(self.key_file, key_pem)
            pki.write_public(self.cert_file, cert_pem)
            pki.write_public(self.ca_file, ca_pem)
            self._pending_key = None
        log.info(
            "agent enrolled host_uuid=%s ca=%s", self.host_uuid, pki.fingerprint_sha256(ca_pem)
        )

    def _ensure_bootstrap_cert(self) -> None:
        if self.bootstrap_cert_file.exists() and self.bootstrap_key_file.exists():
            return
        cert_pem, key_pem = pki.make_self_signed(f"virtfleet-agent-{self.host_uuid}", [])
        pki.write_private(self.bootstrap_key_file, key_pem)
        pki.write_public(self.bootstrap_cert_file, cert_pem)
