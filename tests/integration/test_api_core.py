"""The API's shared behaviour on the core resources: auth, faults, search, follow, SSO events."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from virtfleet.engine.api.app import create_app
from virtfleet.engine.assembly import build_engine
from virtfleet.engine.bootstrap import seed_defaults
from virtfleet.engine.config import EngineConfig
from virtfleet.engine.core.eventlog import EventCode
from virtfleet.engine.tls import ensure_engine_tls

API = "/ovirt-engine/api"
BASIC = {"Authorization": "Basic " + base64.b64encode(b"admin@internal:pw").decode()}
JSON = {**BASIC, "Accept": "application/json"}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    config = EngineConfig(data_dir=tmp_path)
    ensure_engine_tls(config.pki_dir, public_host=None, listen_host="127.0.0.1")
    ctx = build_engine(config)
    seed_defaults(ctx.database, ctx.clock)
    ctx.auth.ensure_admin("pw")
    with TestClient(create_app(ctx)) as test_client:
        yield test_client
    ctx.eventlog.close()
    ctx.database.dispose()


def _names(reply_json: dict[str, list[dict[str, str]]], key: str) -> list[str]:
    return [item["name"] for item in reply_json.get(key, [])]


def test_requests_without_credentials_get_a_401_fault(client: TestClient) -> None:
    reply = client.get(f"{API}/datacenters")
    assert reply.status_code == 401
    assert "<fault>" in reply.text and "<reason>Unauthorized</reason>" in reply.text


def test_a_wrong_password_is_refused(client: TestClient) -> None:
    bad = {"Authorization": "Basic " + base64.b64encode(b"admin@internal:nope").decode()}
    assert client.get(API, headers=bad).status_code == 401


def test_unknown_ids_give_404_and_bad_bodies_400_without_changes(client: TestClient) -> None:
    assert client.get(f"{API}/datacenters/nope", headers=BASIC).status_code == 404
    before = client.get(f"{API}/datacenters", headers=JSON).json()
    for body in (b"<data_center><name>x", b"<cluster><name>x</name></cluster>", b"\x00\xff"):
        reply = client.post(f"{API}/datacenters", headers=BASIC, content=body)
        assert reply.status_code == 400, reply.text
        assert "<fault>" in reply.text
    reply = client.post(
        f"{API}/datacenters",
        headers={**JSON, "Content-Type": "application/json"},
        content=b'{"name": "x", "local": "perhaps"}',
    )
    assert reply.status_code == 400 and reply.json()["reason"] == "Invalid input"
    assert client.get(f"{API}/datacenters", headers=JSON).json() == before


def test_a_cluster_cpu_type_must_be_one_oVirt_knows(client: TestClient) -> None:
    body = {"name": "c1", "data_center": {"name": "Default"}, "cpu": {"type": "Intel 8086"}}
    reply = client.post(f"{API}/clusters", headers=JSON, json=body)
    assert reply.status_code == 400, reply.text
    assert "Unknown cluster CPU type 'Intel 8086'" in reply.json()["detail"]
    assert "c1" not in _names(client.get(f"{API}/clusters", headers=JSON).json(), "cluster")
    body["cpu"] = {"type": "Secure AMD EPYC"}
    created = client.post(f"{API}/clusters", headers=JSON, json=body)
    assert created.status_code == 201, created.text
    cluster = f"{API}/clusters/{created.json()['id']}"
    reply = client.put(cluster, headers=JSON, json={"cpu": {"type": "AMD Athlon"}})
    assert reply.status_code == 400, reply.text
    assert client.get(cluster, headers=JSON).json()["cpu"]["type"] == "Secure AMD EPYC"


def test_oversized_bodies_are_refused_with_413(client: TestClient) -> None:
    body = b"<data_center><name>" + b"x" * (5 * 1024 * 1024) + b"</name></data_center>"
    reply = client.post(f"{API}/datacenters", headers=BASIC, content=body)
    assert reply.status_code == 413


def test_unsupported_methods_get_a_405_fault(client: TestClient) -> None:
    reply = client.put(f"{API}/datacenters", headers=BASIC, content=b"<data_center/>")
    assert reply.status_code == 405
    assert "<fault>" in reply.text


def test_duplicate_names_conflict(client: TestClient) -> None:
    body = b"<data_center><name>Default</name></data_center>"
    reply = client.post(f"{API}/datacenters", headers=BASIC, content=body)
    assert reply.status_code == 409


def test_search_with_wildcards_sorting_and_pages(client: TestClient) -> None:
    for name in ("web1", "web2", "web3", "db1"):
        reply = client.post(f"{API}/tags", headers=JSON, json={"name": name})
        assert reply.status_code == 201, reply.text
    found = client.get(f"{API}/tags", params={"search": "name=web* sortby name desc"}, headers=JSON)
    assert _names(found.json(), "tag") == ["web3", "web2", "web1"]
    page = client.get(
        f"{API}/tags", params={"search": "name=web* sortby name page 2", "max": "2"}, headers=JSON
    )
    assert _names(page.json(), "tag") == ["web3"]
    folded = client.get(
        f"{API}/tags", params={"search": "name=WEB1", "case_sensitive": "false"}, headers=JSON
    )
    assert _names(folded.json(), "tag") == ["web1"]
    assert client.get(f"{API}/tags", params={"search": "name=WEB1"}, headers=JSON).json() == {}


def test_search_prefix_must_name_the_collection(client: TestClient) -> None:
    own = client.get(
        f"{API}/datacenters", params={"search": "DataCenter: name=Default"}, headers=JSON
    )
    assert _names(own.json(), "data_center") == ["Default"]
    other = client.get(f"{API}/datacenters", params={"search": "Hosts: name=Default"}, headers=JSON)
    assert other.status_code == 400
    assert "'Hosts:'" in other.json()["detail"]


def test_sortby_takes_the_objects_own_fields_and_refuses_references(client: TestClient) -> None:
    for name, description in (("a", "3"), ("b", "1"), ("c", "2")):
        reply = client.post(
            f"{API}/datacenters", headers=JSON, json={"name": name, "description": description}
        )
        assert reply.status_code == 201, reply.text
    ordered = client.get(
        f"{API}/datacenters",
        params={"search": "name=a or name=b or name=c sortby description"},
        headers=JSON,
    )
    assert _names(ordered.json(), "data_center") == ["b", "c", "a"]
    refused = client.get(f"{API}/datacenters", params={"search": "sortby cluster"}, headers=JSON)
    assert refused.status_code == 400
    assert "'cluster' cannot be used with sortby" in refused.json()["detail"]


def test_empty_search_and_follow_parameters_are_accepted(client: TestClient) -> None:
    reply = client.get(f"{API}/clusters", params={"search": "", "follow": ""}, headers=JSON)
    assert _names(reply.json(), "cluster") == ["Default"]


def test_follow_inlines_referenced_objects(client: TestClient) -> None:
    reply = client.get(f"{API}/clusters", params={"follow": "data_center"}, headers=JSON)
    assert reply.json()["cluster"][0]["data_center"]["name"] == "Default"


def test_bad_search_is_a_400_fault_naming_the_position(client: TestClient) -> None:
    reply = client.get(f"{API}/tags", params={"search": 'name="open'}, headers=JSON)
    assert reply.status_code == 400
    assert "position" in reply.json()["detail"]


def test_every_data_center_gets_the_management_network(client: TestClient) -> None:
    created = client.post(f"{API}/datacenters", headers=JSON, json={"name": "dc2"}).json()
    networks = client.get(f"{API}/datacenters/{created['id']}/networks", headers=JSON).json()
    assert _names(networks, "network") == ["ovirtmgmt"]


def test_the_api_root_counts_and_links(client: TestClient) -> None:
    root = client.get(API, headers=JSON).json()
    assert root["product_info"]["name"] == "virtfleet"
    assert (
        root["special_objects"]["blank_template"]["id"] == "0" * 8 + "-0000-0000-0000-" + "0" * 12
    )
    assert {"rel": "datacenters", "href": f"{API}/datacenters"} in root["link"]


def test_sso_tokens_work_until_logout_and_logins_are_audited(client: TestClient) -> None:
    form = {
        "grant_type": "password",
        "scope": "ovirt-app-api",
        "username": "admin@internal",
        "password": "pw",
    }
    token = client.post("/ovirt-engine/sso/oauth/token", data=form).json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    assert client.get(f"{API}/datacenters", headers=bearer).status_code == 200
    refused = client.post("/ovirt-engine/sso/oauth/token", data={**form, "password": "x"})
    assert refused.status_code == 400 and refused.json()["error"] == "access_denied"
    client.post("/ovirt-engine/services/sso-logout", data={"token": token})
    assert client.get(f"{API}/datacenters", headers=bearer).status_code == 401
    codes = [e["code"] for e in client.get(f"{API}/events", headers=JSON).json()["event"]]
    assert EventCode.USER_LOGGED_IN in codes and EventCode.USER_LOGIN_FAILED in codes


def test_the_ca_is_served_without_credentials(client: TestClient, tmp_path: Path) -> None:
    reply = client.get(
        "/ovirt-engine/services/pki-resource",
        params={"resource": "ca-certificate", "format": "X509-PEM-CA"},
    )
    assert reply.status_code == 200
    assert reply.content == (tmp_path / "pki" / "ca.crt").read_bytes()


def test_the_openapi_description_lists_the_generated_routes(client: TestClient) -> None:
    document = client.get(f"{API}/openapi.json").json()
    assert f"{API}/datacenters/{{id}}" in document["paths"]
    assert "DataCenter" in document["components"]["schemas"]


def test_events_page_newest_first(client: TestClient) -> None:
    for index in range(5):
        reply = client.post(
            f"{API}/events",
            headers=JSON,
            json={"description": f"note {index}", "origin": "test", "custom_id": index},
        )
        assert reply.status_code == 201, reply.text
    notes = {"search": "message=note*", "max": "2"}
    first = client.get(f"{API}/events", params=notes, headers=JSON).json()["event"]
    second = client.get(
        f"{API}/events", params={**notes, "search": "message=note* page 2"}, headers=JSON
    ).json()["event"]
    assert [e["description"] for e in first] == ["note 4", "note 3"]
    assert [e["description"] for e in second] == ["note 2", "note 1"]
    newest = int(first[0]["id"])
    after = client.get(f"{API}/events", params={"from": str(newest - 2)}, headers=JSON).json()
    assert [e["description"] for e in after["event"]] == ["note 4", "note 3"]
