"""The API root, login, PKI, special objects and events, as ovirtsdk4 scripts use them."""

from __future__ import annotations

import secrets

import httpx
import ovirtsdk4 as sdk
import ovirtsdk4.types as types
import pytest

from .conftest import LiveEngine

pytestmark = pytest.mark.contract

BLANK_ID = "00000000-0000-0000-0000-000000000000"
CA_PATH = "/ovirt-engine/services/pki-resource"


def test_system_get_gives_product_info_and_summary(system: sdk.services.SystemService) -> None:
    api = system.get()

    assert api.product_info.name
    assert api.product_info.version.major == 4
    assert api.product_info.version.full_version
    assert api.summary.hosts.total is not None
    assert api.summary.vms.total is not None
    assert api.summary.storage_domains.total is not None
    assert api.summary.users.total >= 1


def test_connection_test_succeeds_with_right_credentials(connection: sdk.Connection) -> None:
    assert connection.test(raise_exception=True) is True


def test_wrong_password_raises_auth_error(engine: LiveEngine) -> None:
    conn = engine.connect(password="wrong-" + secrets.token_hex(4))
    try:
        with pytest.raises(sdk.AuthError):
            conn.system_service().get()
        assert conn.test() is False
    finally:
        conn.close()


def test_ca_certificate_download_needs_no_credentials_and_matches_the_ca_file(
    engine: LiveEngine,
) -> None:
    reply = httpx.get(
        f"{engine.base_url}{CA_PATH}",
        params={"resource": "ca-certificate", "format": "X509-PEM-CA"},
        verify=engine.ssl_context(),
    )

    assert reply.status_code == 200
    assert reply.text.strip() == engine.ca_file.read_text().strip()
    assert reply.text.startswith("-----BEGIN CERTIFICATE-----")


def test_blank_template_has_the_all_zero_id(system: sdk.services.SystemService) -> None:
    by_id = system.templates_service().template_service(BLANK_ID).get()
    by_name = system.templates_service().list(search="name=Blank")

    assert by_id.name == "Blank"
    assert [t.id for t in by_name] == [BLANK_ID]


def test_blank_template_is_the_special_object_of_the_api(
    system: sdk.services.SystemService,
) -> None:
    assert system.get().special_objects.blank_template.id == BLANK_ID


def test_operating_systems_list_includes_other(system: sdk.services.SystemService) -> None:
    names = {os_info.name for os_info in system.operating_systems_service().list()}

    assert "other" in names
    assert len(names) > 1


def test_at_least_one_event_exists(system: sdk.services.SystemService) -> None:
    assert system.events_service().list()


def _add_event(system: sdk.services.SystemService, text: str) -> types.Event:
    return system.events_service().add(
        types.Event(
            description=text,
            severity=types.LogSeverity.NORMAL,
            origin="contract-tests",
            custom_id=secrets.randbelow(1_000_000_000),
        )
    )


def test_events_max_1_gives_the_newest_event(system: sdk.services.SystemService) -> None:
    added = _add_event(system, "newest " + secrets.token_hex(4))

    newest = system.events_service().list(max=1)

    assert [e.id for e in newest] == [added.id]


def test_events_from_gives_only_newer_events(system: sdk.services.SystemService) -> None:
    events = system.events_service()
    mark = int(events.list(max=1)[0].id)
    first = _add_event(system, "after mark 1")
    second = _add_event(system, "after mark 2")

    newer = events.list(from_=mark)

    ids = [int(e.id) for e in newer]
    assert set(ids) >= {int(first.id), int(second.id)}
    assert all(i > mark for i in ids)


def test_events_are_listed_newest_first(system: sdk.services.SystemService) -> None:
    _add_event(system, "order 1")
    _add_event(system, "order 2")

    ids = [int(e.id) for e in system.events_service().list(max=5)]

    assert ids == sorted(ids, reverse=True)
