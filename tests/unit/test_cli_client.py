"""The CLI's API client: URLs, headers, token renewal and the mapping of faults to errors."""

from __future__ import annotations

import httpx
import pytest

from virtfleet.cli.client import ApiClient, ConnectionFailed, is_id, normalize_url
from virtfleet.common.errors import Conflict, NotAuthenticated, NotFound, VirtfleetError

URL = "https://engine.test:8443"


def client_for(handler: object, **kwargs: object) -> ApiClient:
    transport = httpx.MockTransport(handler)  # type: ignore[arg-type]
    return ApiClient(URL, token="t0", transport=transport, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "typed",
    [
        "engine.test:8443",
        "https://engine.test:8443/",
        "https://engine.test:8443/ovirt-engine",
        "https://engine.test:8443/ovirt-engine/api/",
    ],
)
def test_normalize_url_reduces_what_users_type_to_the_origin(typed: str) -> None:
    assert normalize_url(typed) == URL


def test_requests_carry_the_bearer_token_json_headers_and_version_4() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"vm": []})

    client_for(handler).get("/vms")

    headers = seen[0].headers
    assert str(seen[0].url) == f"{URL}/ovirt-engine/api/vms"
    assert headers["Authorization"] == "Bearer t0"
    assert headers["Accept"] == "application/json"
    assert headers["Version"] == "4"


def test_a_missing_collection_key_means_an_empty_list() -> None:
    client = client_for(lambda request: httpx.Response(200, json={}))

    assert client.list_items("vms", "vm", search="status=up", max_items=5) == []


def test_a_404_fault_becomes_not_found_with_the_fault_reason_and_detail() -> None:
    client = client_for(
        lambda request: httpx.Response(404, json={"reason": "Not Found", "detail": "no such vm"})
    )

    with pytest.raises(NotFound) as caught:
        client.get("/vms/x")

    assert (caught.value.reason, caught.value.detail) == ("Not Found", "no such vm")


def test_a_non_json_server_error_still_gives_a_readable_error() -> None:
    client = client_for(lambda request: httpx.Response(502, text="Bad Gateway"))

    with pytest.raises(VirtfleetError) as caught:
        client.get("/vms")

    assert (caught.value.reason, caught.value.detail) == ("HTTP 502", "Bad Gateway")


def test_an_untrusted_certificate_suggests_a_ca_file() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] self-signed", request=request)

    with pytest.raises(ConnectionFailed, match="--ca-file"):
        client_for(handler).get("/vms")


def test_a_rejected_token_without_a_password_asks_for_a_new_login() -> None:
    client = client_for(lambda request: httpx.Response(401, json={"reason": "Unauthorized"}))

    with pytest.raises(NotAuthenticated, match="virtfleet login"):
        client.get("/vms")


def test_a_renewed_token_is_reported_to_the_listener() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            return httpx.Response(200, json={"access_token": "t1"})
        if request.headers["Authorization"] == "Bearer t1":
            return httpx.Response(200, json={"id": "1"})
        return httpx.Response(401)

    renewed: list[str] = []
    client = client_for(
        handler, user="admin@internal", password_provider=lambda: "pw", on_token=renewed.append
    )

    assert client.get("/vms/1") == {"id": "1"}
    assert renewed == ["t1"]


def test_a_name_shared_by_two_objects_must_be_given_by_id() -> None:
    twins = {"vm": [{"id": "1", "name": "a"}, {"id": "2", "name": "a"}]}
    client = client_for(lambda request: httpx.Response(200, json=twins))

    with pytest.raises(Conflict, match="use the id"):
        client.resolve_id("vms", "vm", "a")


def test_a_search_match_with_another_name_does_not_resolve() -> None:
    client = client_for(
        lambda request: httpx.Response(200, json={"vm": [{"id": "1", "name": "ab"}]})
    )

    with pytest.raises(NotFound):
        client.resolve_id("vms", "vm", "a")


def test_only_uuids_count_as_ids() -> None:
    assert is_id("6c1b7a0e-0f57-4c8e-9d5f-0d5f1c7e6d9a")
    assert not is_id("web1")
