"""SSO endpoints (token, logout), the CA download, and the check every API request passes."""

from __future__ import annotations

import base64
import binascii
import json
from functools import partial
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from virtfleet.common.errors import InvalidInput, NotAuthenticated
from virtfleet.engine.services.auth import AuthService, Principal

SSO_TOKEN_PATH = "/ovirt-engine/sso/oauth/token"
SSO_LOGOUT_PATHS = ("/ovirt-engine/services/sso-logout", "/ovirt-engine/sso/oauth/revoke")
PKI_PATH = "/ovirt-engine/services/pki-resource"
MAX_FORM_BYTES = 64 * 1024


def _sso_error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise InvalidInput("The form is too large")
    from urllib.parse import parse_qsl

    pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    fields = dict(pairs)
    fields.update({k: v for k, v in request.query_params.items() if k not in fields})
    return fields


class Authenticator:
    """Accepts ``Bearer`` tokens from the SSO endpoint and ``Basic`` credentials, like oVirt."""

    def __init__(self, auth: AuthService) -> None:
        self.auth = auth

    async def __call__(self, request: Request) -> Principal:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        scheme = scheme.lower()
        if scheme == "bearer" and value.strip():
            principal = await run_in_threadpool(self.auth.check_token, value.strip())
        elif scheme == "basic" and value.strip():
            login, password = _basic_credentials(value.strip())
            principal = await run_in_threadpool(self.auth.check_password, login, password)
        else:
            raise NotAuthenticated("This request needs credentials (a Bearer token or Basic)")
        request.state.principal = principal
        return principal

    # --- endpoints -------------------------------------------------------------------------------

    async def token(self, request: Request) -> Response:
        try:
            form = await _form(request)
        except InvalidInput as exc:
            return _sso_error(400, "invalid_request", exc.detail)
        if form.get("grant_type") != "password":
            return _sso_error(
                400, "unsupported_grant_type", "Only grant_type=password is supported"
            )
        login, password = form.get("username", ""), form.get("password", "")
        if not login:
            return _sso_error(400, "invalid_request", "The username is missing")
        client = request.client.host if request.client else "unknown"
        try:
            principal = await run_in_threadpool(self.auth.check_password, login, password)
        except NotAuthenticated as exc:
            await run_in_threadpool(
                partial(self.auth.note_login, login, client, succeeded=False, user_id=None)
            )
            return _sso_error(400, "access_denied", exc.detail)
        token, expires = await run_in_threadpool(self.auth.issue_token, principal)
        await run_in_threadpool(
            partial(
                self.auth.note_login,
                principal.user_name,
                client,
                succeeded=True,
                user_id=principal.user_id,
            )
        )
        return JSONResponse(
            {
                "access_token": token,
                "token_type": "bearer",
                "scope": form.get("scope", "ovirt-app-api"),
                "exp": str(int(expires.timestamp() * 1000)),
            }
        )

    async def logout(self, request: Request) -> Response:
        form = await _form(request)
        token = form.get("token") or ""
        header = request.headers.get("authorization", "")
        if not token and header.lower().startswith("bearer "):
            token = header[7:].strip()
        if token:
            await run_in_threadpool(self.auth.revoke_token, token)
        return Response(json.dumps({}), media_type="application/json")


def _basic_credentials(value: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise NotAuthenticated("The Basic credentials are not valid base64") from None
    login, sep, password = decoded.partition(":")
    if not sep:
        raise NotAuthenticated("The Basic credentials must be user:password")
    return login, password


def pki_route(ca_cert_file: Path, engine_cert_file: Path) -> Route:
    """The engine CA, for clients to pin (``ca_file``); served without credentials as oVirt does."""
    files = {"ca-certificate": ca_cert_file, "engine-certificate": engine_cert_file}

    async def handle(request: Request) -> Response:
        resource = request.query_params.get("resource", "ca-certificate")
        if resource not in files:
            raise InvalidInput(f"Unknown PKI resource '{resource}'")
        pem = await run_in_threadpool(files[resource].read_bytes)
        return Response(pem, media_type="application/x-x509-ca-cert")

    return Route(PKI_PATH, handle, methods=["GET"])


def sso_routes(authenticator: Authenticator) -> list[Route]:
    routes = [Route(SSO_TOKEN_PATH, authenticator.token, methods=["POST", "GET"])]
    routes += [Route(p, authenticator.logout, methods=["POST", "GET"]) for p in SSO_LOGOUT_PATHS]
    return routes
