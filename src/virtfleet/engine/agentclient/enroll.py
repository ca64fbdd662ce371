"""Enrolling an agent into the engine's CA, and the client certificate the engine shows agents.

Trust on first use: ``enroll_agent`` cannot verify the agent's self-signed bootstrap
certificate, so it does not try. What protects the exchange is the enrollment secret, which
only the real agent's operator configured; after enrollment both sides authenticate each other
with certificates from the engine CA.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from virtfleet.common import pki
from virtfleet.common.protocol import (
    HOST_COMPLETE_ENROLLMENT,
    HOST_REQUEST_ENROLLMENT,
    EnrollmentCompletion,
    EnrollmentOffer,
    EnrollmentRequest,
)
from virtfleet.engine.agentclient.client import AgentClient

ENGINE_CLIENT_CERT_FILE = "engine-client.crt"
ENGINE_CLIENT_KEY_FILE = "engine-client.key"
ENGINE_CLIENT_NAME = "virtfleet-engine"


async def enroll_agent(
    address: str, port: int, secret: str, ca: pki.CertificateAuthority
) -> EnrollmentOffer:
    """Have the agent at ``address`` make a key, sign its CSR for that address, hand it over.

    Works for a fresh agent and for re-enrolling one (re-installing a host); the agent then
    restarts its listener with mutual TLS, so reconnect with ``engine_client_context``.
    """
    bootstrap = pki.client_ssl_context(ca_file=None, cert_file=None, key_file=None, verify=False)
    async with AgentClient(address, port, bootstrap) as client:
        offer = await client.call(HOST_REQUEST_ENROLLMENT, EnrollmentRequest(secret=secret))
        cert_pem = ca.sign_csr(
            offer.csr_pem.encode(),
            common_name=offer.hostname,
            sans=[address],
            server=True,
            client=False,
        )
        completion = EnrollmentCompletion(
            secret=secret, ca_pem=ca.cert_pem.decode(), cert_pem=cert_pem.decode()
        )
        await client.call(HOST_COMPLETE_ENROLLMENT, completion)
    return offer


def engine_client_context(ca_dir: Path) -> ssl.SSLContext:
    """The TLS context for calling enrolled agents; issues the engine's client cert if needed."""
    ca = pki.CertificateAuthority.load_or_create(ca_dir)
    cert_path = ca_dir / ENGINE_CLIENT_CERT_FILE
    key_path = ca_dir / ENGINE_CLIENT_KEY_FILE
    if not (
        cert_path.exists()
        and key_path.exists()
        and pki.is_issued_by(cert_path.read_bytes(), ca.cert_pem)
    ):
        cert_pem, key_pem = ca.issue(
            ENGINE_CLIENT_NAME, sans=[ENGINE_CLIENT_NAME], server=False, client=True
        )
        pki.write_private(key_path, key_pem)
        pki.write_public(cert_path, cert_pem)
    return pki.client_ssl_context(ca_file=ca.cert_file, cert_file=cert_path, key_file=key_path)
