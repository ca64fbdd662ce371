"""The login profile: private storage, CA fingerprints and how the environment overrides it."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from virtfleet.cli.profile import (
    Profile,
    load_profile,
    resolve_connection,
    save_profile,
)
from virtfleet.common.errors import NotAuthenticated

PROFILE = Profile(
    url="https://engine.test:8443", user="admin@internal", ca_file="/cfg/ca.pem", token="tok"
)


def test_saved_profile_is_private_and_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "virtfleet" / "cli.json"

    save_profile(path, PROFILE)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_profile(path) == PROFILE


def test_without_profile_or_url_there_is_no_connection() -> None:
    with pytest.raises(NotAuthenticated):
        resolve_connection(None, {})


def test_the_profile_token_is_used_when_the_environment_is_silent() -> None:
    conn = resolve_connection(PROFILE, {})

    assert (conn.url, conn.token, conn.ca_file, conn.from_profile) == (
        PROFILE.url,
        "tok",
        "/cfg/ca.pem",
        True,
    )


def test_a_password_in_the_environment_means_a_fresh_token() -> None:
    conn = resolve_connection(PROFILE, {"VIRTFLEET_PASSWORD": "pw"})

    assert conn.token is None and conn.password == "pw" and not conn.from_profile


def test_another_engine_in_the_environment_ignores_the_profile_ca_and_token() -> None:
    conn = resolve_connection(PROFILE, {"VIRTFLEET_URL": "other.test", "VIRTFLEET_PASSWORD": "pw"})

    assert conn.url == "https://other.test"
    assert (conn.ca_file, conn.token, conn.user) == (None, None, "admin@internal")


def test_ca_file_and_user_from_the_environment_override_the_profile() -> None:
    conn = resolve_connection(
        PROFILE, {"VIRTFLEET_CA_FILE": "/etc/ca.pem", "VIRTFLEET_USER": "alice@internal"}
    )

    assert (conn.ca_file, conn.user, conn.token) == ("/etc/ca.pem", "alice@internal", None)
