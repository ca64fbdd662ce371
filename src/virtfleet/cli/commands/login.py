"""`virtfleet login` and `logout`: obtain a token and remember the engine, its CA and the token."""

from __future__ import annotations

import ssl
import sys
from pathlib import Path
from typing import Annotated

import typer

from virtfleet.cli import output
from virtfleet.cli.client import ApiClient, Verify, make_verify, normalize_url
from virtfleet.cli.commands import PasswordStdinOpt, get_state, read_password
from virtfleet.cli.output import OutputFormat
from virtfleet.cli.profile import (
    DEFAULT_USER,
    Profile,
    ca_fingerprint,
    config_dir,
    delete_profile,
    profile_path,
    save_ca,
    save_profile,
)
from virtfleet.common.errors import InvalidInput


def _trust_fetched_ca(pem: str, use_system_context: bool) -> Verify:
    if not use_system_context:
        return True
    try:
        return ssl.create_default_context(cadata=pem)
    except ssl.SSLError as exc:
        raise InvalidInput(f"the engine's CA certificate is unusable: {exc}") from exc


def login(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="Engine URL, e.g. https://engine.example:8443.")],
    user: Annotated[str, typer.Option(help="User name, e.g. admin@internal.")] = DEFAULT_USER,
    password_stdin: PasswordStdinOpt = False,
    ca_file: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help="PEM file of the engine's CA."),
    ] = None,
    insecure: Annotated[
        bool, typer.Option(help="Do not verify the engine's TLS certificate.")
    ] = False,
) -> None:
    """Log in to an engine and remember it (the password itself is never stored)."""
    if ca_file is not None and insecure:
        raise InvalidInput("--ca-file and --insecure exclude each other")
    state = get_state(ctx)
    url = normalize_url(url)
    password = read_password(password_stdin, f"Password for {user}")
    real_tls = state.transport is None
    fetched_pem: str | None = None
    fingerprint: str | None = None
    if insecure or ca_file is not None:
        verify = make_verify(str(ca_file) if ca_file else None, insecure) if real_tls else True
    else:
        # Trust on first use: the CA comes over unverified TLS, so show what was received.
        with ApiClient(url, verify=False, transport=state.transport) as bootstrap:
            fetched_pem = bootstrap.fetch_ca()
        fingerprint = ca_fingerprint(fetched_pem)
        output.notice(f"Engine CA SHA-256 fingerprint: {fingerprint}")
        if sys.stdin.isatty() and not password_stdin:
            typer.confirm("Trust this CA?", abort=True, err=True)
        verify = _trust_fetched_ca(fetched_pem, real_tls)
    with ApiClient(url, user=user, verify=verify, transport=state.transport) as client:
        token = client.login(password)
    ca_path = str(ca_file.resolve()) if ca_file is not None else None
    if fetched_pem is not None:
        ca_path = str(save_ca(config_dir(state.env), fetched_pem))
    profile = Profile(url=url, user=user, ca_file=ca_path, insecure=insecure, token=token)
    save_profile(profile_path(state.env), profile)
    if state.output is OutputFormat.JSON:
        output.print_json({"url": url, "user": user, "ca_file": ca_path, "ca_sha256": fingerprint})
    else:
        output.message(f"Logged in to {url} as {user}")


def logout(ctx: typer.Context) -> None:
    """Forget the stored token, engine URL and CA."""
    if delete_profile(profile_path(get_state(ctx).env)):
        output.message("Logged out")
    else:
        output.message("Not logged in")
