"""`virtfleet login` over real TLS: the CA fetched on first use is what later calls trust."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from typer.testing import CliRunner

from virtfleet.cli.commands import CliState
from virtfleet.cli.main import app


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _issue(tmp_path: Path) -> tuple[str, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 signed by it: (CA PEM, cert file, key file)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("test CA"))
        .issuer_name(_name("test CA"))
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(2)
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "server.pem", tmp_path / "server.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca.public_bytes(serialization.Encoding.PEM).decode(), cert_file, key_file


def _handler(ca_pem: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _reply(self, payload: str, content_type: str = "application/json") -> None:
            data = payload.encode()
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path.startswith("/ovirt-engine/services/pki-resource"):
                self._reply(ca_pem, "application/x-pem-file")
            else:
                self._reply(json.dumps({"vm": [{"id": "1", "name": "tls-vm", "status": "up"}]}))

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self._reply(json.dumps({"access_token": "tok", "token_type": "Bearer"}))

        def log_message(self, *args: object) -> None:
            return None

    return Handler


@pytest.fixture
def engine_url(tmp_path: Path) -> Iterator[str]:
    ca_pem, cert_file, key_file = _issue(tmp_path)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(ca_pem))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_login_pins_the_fetched_ca_and_later_calls_verify_against_it(
    engine_url: str, tmp_path: Path
) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config")}
    runner = CliRunner()

    login = runner.invoke(
        app, ["login", engine_url, "--password-stdin"], input="pw\n", obj=CliState(env=env)
    )
    listing = runner.invoke(app, ["vm", "list"], obj=CliState(env=env))

    assert login.exit_code == 0, login.output
    assert listing.exit_code == 0, listing.output
    assert "tls-vm" in listing.stdout


def test_an_engine_whose_ca_is_not_trusted_is_refused(engine_url: str, tmp_path: Path) -> None:
    env = {
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "VIRTFLEET_URL": engine_url,
        "VIRTFLEET_PASSWORD": "pw",
    }

    result = CliRunner().invoke(app, ["vm", "list"], obj=CliState(env=env))

    assert result.exit_code == 1
    assert "not trusted" in result.stderr
