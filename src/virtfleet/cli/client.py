"""A small synchronous client for the engine's JSON API, with token handling and error mapping."""

from __future__ import annotations

import logging
import ssl
import uuid
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import httpx
from pydantic import ValidationError

from virtfleet.common.apimodel import ApiObject, ApiStruct
from virtfleet.common.apimodel.jsondecode import from_json_data
from virtfleet.common.errors import (
    Conflict,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    VirtfleetError,
    error_class,
)
from virtfleet.common.validation import describe_errors

log = logging.getLogger(__name__)

API_PATH = "/ovirt-engine/api"
TOKEN_PATH = "/ovirt-engine/sso/oauth/token"
CA_PATH = "/ovirt-engine/services/pki-resource"

JsonObject = dict[str, Any]
T = TypeVar("T", bound=ApiStruct)
Verify = ssl.SSLContext | bool
PasswordProvider = Callable[[], str | None]
TokenListener = Callable[[str], None]


class ConnectionFailed(VirtfleetError):
    """The engine could not be reached or its TLS certificate was not trusted."""

    reason = "Connection failed"


def decode_reply(data: JsonObject, cls: type[T], what: str) -> T:
    """A reply as the API model the engine itself declares (``common.apimodel``)."""
    try:
        return from_json_data(data, cls)
    except ValidationError as exc:
        raise VirtfleetError(
            f"{what}: the reply is not a valid {cls.__name__}: {describe_errors(exc, 'field')}",
            reason="Unexpected reply",
        ) from None


def normalize_url(url: str) -> str:
    """Reduce what a user typed (host, host:port, full API URL) to the engine's origin."""
    url = url.strip().rstrip("/")
    if "://" not in url:
        url = f"https://{url}"
    for suffix in (API_PATH, "/ovirt-engine"):
        if url.endswith(suffix):
            url = url[: -len(suffix)]
    return url.rstrip("/")


def make_verify(ca_file: str | None, insecure: bool) -> Verify:
    """Build the TLS verification setting: a context trusting ``ca_file``, the system, or none."""
    if insecure:
        return False
    if ca_file:
        try:
            return ssl.create_default_context(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise InvalidInput(f"cannot load CA file {ca_file}: {exc}") from exc
    return True


def is_id(value: str) -> bool:
    """Tell whether ``value`` is an object id (a UUID) rather than a name."""
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _search_term(name: str) -> str:
    if any(ch.isspace() or ch in "\"'=" for ch in name):
        escaped = name.replace('"', '\\"')
        return f'name="{escaped}"'
    return f"name={name}"


def _error_from_response(response: httpx.Response) -> VirtfleetError:
    """Turn a non-2xx reply into a domain error: a fault (or SSO error body) into the error its
    status declares; anything else (a proxy's page) into a plain error naming the status."""
    reason: str | None = None
    detail = ""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        reason = body.get("reason") or body.get("error")
        detail = str(body.get("detail") or body.get("error_description") or "")
    if not detail:
        text = "" if isinstance(body, dict) else response.text.strip()[:200]
        detail = text or response.reason_phrase or f"HTTP {response.status_code}"
    cls = (
        error_class("http_status", response.status_code)
        if isinstance(body, dict)
        else VirtfleetError
    )
    error = cls(detail, reason=str(reason) if reason else None)
    if cls is VirtfleetError and not reason:
        error.reason = f"HTTP {response.status_code}"
    return error


def _connection_error(url: str, exc: httpx.HTTPError) -> ConnectionFailed:
    text = str(exc) or type(exc).__name__
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return ConnectionFailed(
            f"{url}: the engine's TLS certificate is not trusted ({text}); "
            "log in again or pass --ca-file"
        )
    return ConnectionFailed(f"{url}: {text}")


class ApiClient:
    """Talks to one engine: fetches bearer tokens, retries once on 401, maps faults to errors."""

    def __init__(
        self,
        url: str,
        *,
        user: str | None = None,
        token: str | None = None,
        password_provider: PasswordProvider | None = None,
        on_token: TokenListener | None = None,
        verify: Verify = True,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.url = normalize_url(url)
        self.user = user
        self.token = token
        self._password_provider = password_provider
        self._on_token = on_token
        self._http = httpx.Client(
            base_url=self.url, verify=verify, transport=transport, timeout=timeout
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise _connection_error(self.url, exc) from exc

    def fetch_ca(self) -> str:
        """Download the engine's CA certificate (PEM); the endpoint needs no authentication."""
        params = {"resource": "ca-certificate", "format": "X509-PEM-CA"}
        response = self._send("GET", CA_PATH, params=params)
        if not response.is_success:
            raise _error_from_response(response)
        pem = response.text
        if "BEGIN CERTIFICATE" not in pem:
            raise InvalidInput(f"{self.url} did not return a PEM certificate")
        return pem

    def login(self, password: str) -> str:
        """Fetch a bearer token with the password grant and use it from now on."""
        if not self.user:
            raise InvalidInput("a user name is needed to log in")
        form = {
            "grant_type": "password",
            "scope": "ovirt-app-api",
            "username": self.user,
            "password": password,
        }
        response = self._send("POST", TOKEN_PATH, data=form, headers={"Accept": "application/json"})
        if not response.is_success:
            error = _error_from_response(response)
            raise NotAuthenticated(error.detail, reason=error.reason)
        try:
            token = response.json()["access_token"]
        except (ValueError, KeyError, TypeError) as exc:
            raise NotAuthenticated("the token endpoint returned no access_token") from exc
        self.token = str(token)
        if self._on_token is not None:
            self._on_token(self.token)
        return self.token

    def _relogin(self) -> bool:
        password = self._password_provider() if self._password_provider else None
        if password is None:
            return False
        log.info("token rejected; fetching a new one user=%s", self.user)
        self.login(password)
        return True

    def _headers(self) -> dict[str, str]:
        headers = {
            "Accept": "application/json",
            "Content-Type": "application/json",
            "Version": "4",
        }
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        body: JsonObject | None = None,
    ) -> JsonObject:
        """Send one API call and return its decoded JSON object ({} when the body is empty)."""
        if self.token is None and not self._relogin():
            raise NotAuthenticated("not logged in; run `virtfleet login URL --user USER`")
        url = API_PATH + path
        kwargs: dict[str, Any] = {"params": params}
        if body is not None:
            kwargs["json"] = body
        response = self._send(method, url, headers=self._headers(), **kwargs)
        if response.status_code == 401 and self._relogin():
            response = self._send(method, url, headers=self._headers(), **kwargs)
        if not response.is_success:
            error = _error_from_response(response)
            if response.status_code == 401:
                raise NotAuthenticated(
                    f"{error.detail}; run `virtfleet login` again", reason=error.reason
                )
            raise error
        if not response.content:
            return {}
        try:
            data = response.json()
        except ValueError as exc:
            raise VirtfleetError(f"{method} {path}: the engine returned invalid JSON") from exc
        return data if isinstance(data, dict) else {"value": data}

    def get(self, path: str, params: Mapping[str, str | int] | None = None) -> JsonObject:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: JsonObject | None = None) -> JsonObject:
        return self.request("POST", path, body=body if body is not None else {})

    def put(self, path: str, body: JsonObject) -> JsonObject:
        return self.request("PUT", path, body=body)

    def delete(self, path: str) -> JsonObject:
        return self.request("DELETE", path)

    def get_as(self, path: str, cls: type[T], params: Mapping[str, str | int] | None = None) -> T:
        return decode_reply(self.get(path, params), cls, f"GET {path}")

    def post_as(self, path: str, body: ApiStruct, cls: type[T]) -> T:
        """POST an API object (by its wire names, unset fields left out); the reply as ``cls``."""
        data = body.model_dump(mode="json", by_alias=True, exclude_none=True)
        return decode_reply(self.post(path, data), cls, f"POST {path}")

    def delete_as(self, path: str, cls: type[T]) -> T:
        return decode_reply(self.delete(path), cls, f"DELETE {path}")

    def list_as(
        self,
        collection: str,
        key: str,
        cls: type[T],
        *,
        search: str | None = None,
        max_items: int | None = None,
        extra: Mapping[str, str | int] | None = None,
    ) -> list[T]:
        """GET a collection and decode its items as ``cls``."""
        items = self.list_items(collection, key, search=search, max_items=max_items, extra=extra)
        return [decode_reply(item, cls, f"GET /{collection}") for item in items]

    def list_items(
        self,
        collection: str,
        key: str,
        *,
        search: str | None = None,
        max_items: int | None = None,
        extra: Mapping[str, str | int] | None = None,
    ) -> list[JsonObject]:
        """GET a collection and return its items (a missing key means an empty list)."""
        params: dict[str, str | int] = dict(extra or {})
        if search:
            params["search"] = search
        if max_items is not None:
            params["max"] = max_items
        items = self.get(f"/{collection}", params or None).get(key, [])
        return [item for item in items if isinstance(item, dict)]

    def resolve_id(
        self, collection: str, key: str, name_or_id: str, *, label: str | None = None
    ) -> str:
        """Turn a NAME into its id through ``search=name=NAME``; an id is returned as is."""
        if is_id(name_or_id):
            return name_or_id
        found = self.list_as(collection, key, ApiObject, search=_search_term(name_or_id))
        matches = [item for item in found if item.name == name_or_id and item.id]
        label = label or key.replace("_", " ")
        if not matches:
            raise NotFound(f"no {label} named {name_or_id!r}")
        if len(matches) > 1:
            raise Conflict(f"several {label}s are named {name_or_id!r}; use the id")
        return str(matches[0].id)
