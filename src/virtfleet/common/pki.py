"""The engine's small certificate authority and the TLS contexts built from its files.

The engine signs each enrolled agent's CSR and its own HTTPS/client certificates; agents and the
engine then authenticate each other by chains rooted at this one CA (ECDSA P-256 throughout).
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from virtfleet.common.errors import InvalidInput

CA_CERT_FILE = "ca.crt"
CA_KEY_FILE = "ca.key"
CA_VALIDITY_DAYS = 3650
# Certificates are back-dated a little so a peer whose clock runs slightly behind accepts them.
_CLOCK_SKEW = datetime.timedelta(minutes=5)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _general_names(sans: list[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for san in sans:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(san)))
        except ValueError:
            names.append(x509.DNSName(san))
    return names


def write_private(path: Path, data: bytes) -> None:
    """Write a secret file atomically, readable by its owner only."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def write_public(path: Path, data: bytes) -> None:
    """Write a certificate atomically so a reader never sees half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def load_certificate(cert_pem: bytes) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(cert_pem)
    except ValueError as e:
        raise InvalidInput(f"not a PEM certificate: {e}") from e


def certificate_names(cert_pem: bytes) -> set[str]:
    """The DNS names and IP addresses a certificate is valid for (its subject alternative names)."""
    try:
        sans = load_certificate(cert_pem).extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        )
    except x509.ExtensionNotFound:
        return set()
    dns = sans.value.get_values_for_type(x509.DNSName)
    ips = sans.value.get_values_for_type(x509.IPAddress)
    return set(dns) | {str(ip) for ip in ips}


def _load_ec_key(key_pem: bytes) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(key_pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise InvalidInput("only ECDSA keys are used by virtfleet")
    return key


def make_key_and_csr(common_name: str) -> tuple[bytes, bytes]:
    """A fresh private key and a CSR for it; the CA decides names and usages when signing."""
    key = _new_key()
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(_name(common_name))
        .sign(key, hashes.SHA256())
    )
    return _key_pem(key), csr.public_bytes(serialization.Encoding.PEM)


def make_self_signed(common_name: str, sans: list[str], days: int = 3650) -> tuple[bytes, bytes]:
    """A throw-away server certificate (and key) for a listener nobody can verify yet."""
    key = _new_key()
    now = _now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _CLOCK_SKEW)
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    )
    if sans:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(_general_names(sans)), critical=False
        )
    cert = builder.sign(key, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def cert_matches_key(cert_pem: bytes, key_pem: bytes) -> bool:
    cert_key = load_certificate(cert_pem).public_key()
    own = _load_ec_key(key_pem).public_key()
    fmt = serialization.PublicFormat.SubjectPublicKeyInfo
    enc = serialization.Encoding.DER
    return cert_key.public_bytes(enc, fmt) == own.public_bytes(enc, fmt)


def is_issued_by(cert_pem: bytes, ca_pem: bytes) -> bool:
    """True when ``ca_pem`` is a CA certificate whose key signed ``cert_pem``."""
    cert = load_certificate(cert_pem)
    ca = load_certificate(ca_pem)
    try:
        constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return False
    if not constraints.ca:
        return False
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def fingerprint_sha256(cert_pem: bytes) -> str:
    """The SHA-256 fingerprint of the DER certificate, as colon-separated upper-case hex."""
    der = load_certificate(cert_pem).public_bytes(serialization.Encoding.DER)
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


@dataclass(frozen=True)
class CertificateAuthority:
    """A CA whose key and self-signed certificate live as PEM files in one directory."""

    directory: Path
    cert_pem: bytes
    _key: ec.EllipticCurvePrivateKey
    _cert: x509.Certificate

    @property
    def cert_file(self) -> Path:
        return self.directory / CA_CERT_FILE

    @classmethod
    def load_or_create(
        cls, directory: Path, common_name: str = "virtfleet-engine-ca"
    ) -> CertificateAuthority:
        directory.mkdir(parents=True, exist_ok=True)
        cert_path = directory / CA_CERT_FILE
        key_path = directory / CA_KEY_FILE
        if cert_path.exists() and key_path.exists():
            cert_pem = cert_path.read_bytes()
            key = _load_ec_key(key_path.read_bytes())
            return cls(directory, cert_pem, key, load_certificate(cert_pem))
        key = _new_key()
        now = _now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(_name(common_name))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _CLOCK_SKEW)
            .not_valid_after(now + datetime.timedelta(days=CA_VALIDITY_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .sign(key, hashes.SHA256())
        )
        cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        # Key first: a crash between the two writes leaves no certificate without its key.
        write_private(key_path, _key_pem(key))
        write_public(cert_path, cert_pem)
        return cls(directory, cert_pem, key, cert)

    def sign_csr(
        self,
        csr_pem: bytes,
        *,
        common_name: str,
        sans: list[str],
        server: bool,
        client: bool,
        days: int = 825,
    ) -> bytes:
        """Sign a CSR; the subject, names and usages come from the caller, not from the CSR."""
        try:
            csr = x509.load_pem_x509_csr(csr_pem)
        except ValueError as e:
            raise InvalidInput(f"not a PEM certificate request: {e}") from e
        if not csr.is_signature_valid:
            raise InvalidInput("the certificate request's signature is not valid")
        public_key = csr.public_key()
        if not isinstance(public_key, ec.EllipticCurvePublicKey):
            raise InvalidInput("only ECDSA keys are used by virtfleet")
        return self._sign(public_key, common_name, sans, server=server, client=client, days=days)

    def issue(
        self, common_name: str, *, sans: list[str], server: bool, client: bool, days: int = 825
    ) -> tuple[bytes, bytes]:
        """A new key and a certificate for it: ``(cert_pem, key_pem)``."""
        key = _new_key()
        cert_pem = self._sign(
            key.public_key(), common_name, sans, server=server, client=client, days=days
        )
        return cert_pem, _key_pem(key)

    def _sign(
        self,
        public_key: ec.EllipticCurvePublicKey,
        common_name: str,
        sans: list[str],
        *,
        server: bool,
        client: bool,
        days: int,
    ) -> bytes:
        usages = []
        if server:
            usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
        if client:
            usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
        if not usages:
            raise InvalidInput("a certificate must be for a server, a client or both")
        now = _now()
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(self._cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _CLOCK_SKEW)
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                critical=False,
            )
        )
        if sans:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(_general_names(sans)), critical=False
            )
        cert = builder.sign(self._key, hashes.SHA256())
        return cert.public_bytes(serialization.Encoding.PEM)


def server_ssl_context(
    cert_file: Path,
    key_file: Path,
    *,
    client_ca_file: Path | None,
    client_cert_optional: bool = False,
) -> ssl.SSLContext:
    """A TLS server context; with ``client_ca_file`` clients must show a certificate from it.

    ``client_cert_optional`` still verifies any certificate a client shows but lets clients
    without one in, for a server that decides per request what an anonymous peer may do.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert_file, key_file)
    if client_ca_file is not None:
        ctx.load_verify_locations(cafile=client_ca_file)
        ctx.verify_mode = ssl.CERT_OPTIONAL if client_cert_optional else ssl.CERT_REQUIRED
    return ctx


def client_ssl_context(
    *,
    ca_file: Path | None,
    cert_file: Path | None,
    key_file: Path | None,
    verify: bool = True,
) -> ssl.SSLContext:
    """A TLS client context that checks the server against ``ca_file`` (or not, if ``verify``
    is false) and shows ``cert_file`` when given."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if verify:
        if ca_file is None:
            ctx.load_default_certs(ssl.Purpose.SERVER_AUTH)
        else:
            ctx.load_verify_locations(cafile=ca_file)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if cert_file is not None:
        ctx.load_cert_chain(cert_file, key_file)
    return ctx
