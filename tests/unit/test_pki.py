"""The engine CA: persistence, signing, and certificates that pass (or fail) real TLS handshakes."""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from virtfleet.common import pki
from virtfleet.common.errors import InvalidInput


def _write_pair(directory: Path, name: str, cert_pem: bytes, key_pem: bytes) -> tuple[Path, Path]:
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    cert.write_bytes(cert_pem)
    key.write_bytes(key_pem)
    return cert, key


async def _exchange(
    server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext, server_hostname: str
) -> bytes:
    """Connect over TLS on loopback; the server says b"ok". Returns what the client read."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            writer.write(b"ok")
            await writer.drain()
        except (ssl.SSLError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=server_ctx)
    port = server.sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=client_ctx, server_hostname=server_hostname
        )
        try:
            return await asyncio.wait_for(reader.read(2), 5)
        finally:
            writer.close()
    except (ssl.SSLError, ConnectionError):
        return b""
    finally:
        server.close()
        await server.wait_closed()


def test_ca_is_created_once_and_reloaded(tmp_path: Path) -> None:
    first = pki.CertificateAuthority.load_or_create(tmp_path / "ca")
    second = pki.CertificateAuthority.load_or_create(tmp_path / "ca")
    assert first.cert_pem == second.cert_pem
    assert first.cert_file.read_bytes() == first.cert_pem


def test_ca_key_file_is_readable_by_owner_only(tmp_path: Path) -> None:
    pki.CertificateAuthority.load_or_create(tmp_path)
    mode = stat.S_IMODE((tmp_path / pki.CA_KEY_FILE).stat().st_mode)
    assert mode == 0o600


def test_signed_csr_gets_the_names_and_usages_the_ca_chose(tmp_path: Path) -> None:
    ca = pki.CertificateAuthority.load_or_create(tmp_path)
    _key, csr = pki.make_key_and_csr("whatever-the-agent-says")
    cert_pem = ca.sign_csr(
        csr, common_name="host1", sans=["192.0.2.7", "host1.example"], server=True, client=False
    )
    cert = x509.load_pem_x509_certificate(cert_pem)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("192.0.2.7")]
    assert sans.get_values_for_type(x509.DNSName) == ["host1.example"]
    usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert cert.subject.rfc4514_string() == "CN=host1"


def test_signed_cert_matches_the_csr_key_and_chains_to_its_ca_only(tmp_path: Path) -> None:
    ca = pki.CertificateAuthority.load_or_create(tmp_path / "a")
    other = pki.CertificateAuthority.load_or_create(tmp_path / "b")
    key, csr = pki.make_key_and_csr("h")
    cert_pem = ca.sign_csr(csr, common_name="h", sans=[], server=True, client=False)
    other_key, _ = pki.make_key_and_csr("h")
    assert pki.cert_matches_key(cert_pem, key)
    assert not pki.cert_matches_key(cert_pem, other_key)
    assert pki.is_issued_by(cert_pem, ca.cert_pem)
    assert not pki.is_issued_by(cert_pem, other.cert_pem)


def test_a_leaf_certificate_is_not_accepted_as_issuer(tmp_path: Path) -> None:
    ca = pki.CertificateAuthority.load_or_create(tmp_path)
    leaf, _ = ca.issue("leaf", sans=[], server=True, client=False)
    assert not pki.is_issued_by(leaf, leaf)


def test_sign_csr_refuses_what_is_not_a_csr(tmp_path: Path) -> None:
    ca = pki.CertificateAuthority.load_or_create(tmp_path)
    with pytest.raises(InvalidInput):
        ca.sign_csr(b"junk", common_name="h", sans=[], server=True, client=False)


def test_fingerprint_is_colon_separated_sha256(tmp_path: Path) -> None:
    ca = pki.CertificateAuthority.load_or_create(tmp_path)
    fingerprint = pki.fingerprint_sha256(ca.cert_pem)
    assert len(fingerprint.split(":")) == 32
    assert fingerprint == pki.fingerprint_sha256(ca.cert_pem)


@pytest.fixture
def mtls(tmp_path: Path) -> dict[str, Path]:
    ca = pki.CertificateAuthority.load_or_create(tmp_path / "ca")
    server = _write_pair(
        tmp_path, "server", *ca.issue("s", sans=["127.0.0.1"], server=True, client=False)
    )
    client = _write_pair(tmp_path, "client", *ca.issue("c", sans=[], server=False, client=True))
    rogue_ca = pki.CertificateAuthority.load_or_create(tmp_path / "rogue")
    rogue = _write_pair(tmp_path, "rogue", *rogue_ca.issue("c", sans=[], server=False, client=True))
    return {
        "ca": ca.cert_file,
        "server_cert": server[0],
        "server_key": server[1],
        "client_cert": client[0],
        "client_key": client[1],
        "rogue_cert": rogue[0],
        "rogue_key": rogue[1],
    }


async def test_mutual_tls_handshake_succeeds_with_certs_from_the_ca(mtls: dict[str, Path]) -> None:
    server_ctx = pki.server_ssl_context(
        mtls["server_cert"], mtls["server_key"], client_ca_file=mtls["ca"]
    )
    client_ctx = pki.client_ssl_context(
        ca_file=mtls["ca"], cert_file=mtls["client_cert"], key_file=mtls["client_key"]
    )
    assert await _exchange(server_ctx, client_ctx, "127.0.0.1") == b"ok"


async def test_server_requiring_client_certs_refuses_a_client_without_one(
    mtls: dict[str, Path],
) -> None:
    server_ctx = pki.server_ssl_context(
        mtls["server_cert"], mtls["server_key"], client_ca_file=mtls["ca"]
    )
    client_ctx = pki.client_ssl_context(ca_file=mtls["ca"], cert_file=None, key_file=None)
    assert await _exchange(server_ctx, client_ctx, "127.0.0.1") == b""


async def test_server_refuses_a_client_cert_from_another_ca(mtls: dict[str, Path]) -> None:
    server_ctx = pki.server_ssl_context(
        mtls["server_cert"], mtls["server_key"], client_ca_file=mtls["ca"]
    )
    client_ctx = pki.client_ssl_context(
        ca_file=mtls["ca"], cert_file=mtls["rogue_cert"], key_file=mtls["rogue_key"]
    )
    assert await _exchange(server_ctx, client_ctx, "127.0.0.1") == b""


async def test_client_refuses_a_server_cert_for_another_name(mtls: dict[str, Path]) -> None:
    server_ctx = pki.server_ssl_context(
        mtls["server_cert"], mtls["server_key"], client_ca_file=None
    )
    client_ctx = pki.client_ssl_context(ca_file=mtls["ca"], cert_file=None, key_file=None)
    assert await _exchange(server_ctx, client_ctx, "elsewhere.example") == b""


async def test_unverifying_client_accepts_a_self_signed_server(tmp_path: Path) -> None:
    cert, key = _write_pair(tmp_path, "boot", *pki.make_self_signed("boot", []))
    server_ctx = pki.server_ssl_context(cert, key, client_ca_file=None)
    client_ctx = pki.client_ssl_context(ca_file=None, cert_file=None, key_file=None, verify=False)
    assert await _exchange(server_ctx, client_ctx, "127.0.0.1") == b"ok"
