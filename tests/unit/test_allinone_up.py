"""``virtfleet up`` chooses the local host's driver and checks it before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from virtfleet import allinone
from virtfleet.cli.main import app
from virtfleet.common.errors import InvalidInput, VirtfleetError


def test_the_local_host_defaults_to_the_system_daemon_as_root() -> None:
    assert allinone.local_uri("qemu", None, euid=0) == "qemu:///system"


def test_the_local_host_defaults_to_a_session_daemon_for_a_user() -> None:
    assert allinone.local_uri("qemu", None, euid=1000) == "qemu:///session"


def test_an_explicit_libvirt_uri_wins() -> None:
    uri = "qemu:///system?socket=/tmp/x/libvirt-sock"
    assert allinone.local_uri("qemu", uri, euid=0) == uri


def test_the_test_driver_keeps_the_local_host_simulated() -> None:
    assert allinone.local_uri("test", None, euid=0) is None


def test_a_libvirt_uri_with_the_test_driver_is_refused() -> None:
    with pytest.raises(InvalidInput):
        allinone.local_uri("test", "qemu:///system", euid=0)


def test_an_unknown_local_driver_is_refused() -> None:
    with pytest.raises(InvalidInput, match="use qemu or test"):
        allinone.local_uri("xen", None, euid=0)


def test_the_local_host_runs_on_the_given_uri_and_simulated_hosts_on_the_test_driver(
    tmp_path: Path,
) -> None:
    planned = allinone.plan_hosts(tmp_path, 2, 60000, "qemu:///session")
    assert [h.name for h in planned] == ["local", "sim-0001", "sim-0002"]
    assert planned[0].config.driver_uri == "qemu:///session"
    assert all(h.config.driver_uri.startswith("test://") for h in planned[1:])
    assert [h.config.port for h in planned] == [60000, 60001, 60002]


def test_without_a_uri_the_local_host_is_simulated(tmp_path: Path) -> None:
    planned = allinone.plan_hosts(tmp_path, 0, 60000)
    assert planned[0].config.driver_uri.startswith("test://")


def test_a_failed_preflight_stops_up_before_anything_starts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def missing(uri: str, storage: Path) -> None:
        raise VirtfleetError("QEMU is missing: install it", reason="The local host cannot start")

    monkeypatch.setattr(allinone, "check_local_host", missing)
    monkeypatch.setattr(allinone, "configure_logging", lambda: None)

    result = CliRunner().invoke(app, ["up", "--data-dir", str(tmp_path / "data")])

    assert result.exit_code == 1
    assert "The local host cannot start: QEMU is missing" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "data").exists()


def test_the_test_driver_skips_the_preflight(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    checked: list[str] = []
    ran: list[object] = []
    monkeypatch.setattr(allinone, "check_local_host", lambda uri, storage: checked.append(uri))
    monkeypatch.setattr(allinone, "configure_logging", lambda: None)
    monkeypatch.setattr(allinone, "asyncio", _NoRun(ran))

    allinone.run_up(tmp_path, 9443, 0, "127.0.0.1", 60000, local_driver="test")

    assert checked == []
    assert len(ran) == 1


class _NoRun:
    """Stands in for asyncio: records the coroutine ``run_up`` would run, and closes it."""

    def __init__(self, ran: list[object]) -> None:
        self._ran = ran

    def run(self, coroutine: object) -> None:
        self._ran.append(coroutine)
        coroutine.close()  # type: ignore[attr-defined]


def test_up_hands_the_local_driver_options_to_run_up(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls: list[dict[str, object]] = []
    monkeypatch.setattr(allinone, "run_up", lambda **kwargs: calls.append(kwargs))
    argv = ["up", "--data-dir", str(tmp_path), "--libvirt-uri", "qemu:///session"]

    result = CliRunner().invoke(app, [*argv, "--local-driver", "qemu"])

    assert result.exit_code == 0, result.output
    assert calls[0]["local_driver"] == "qemu"
    assert calls[0]["libvirt_uri"] == "qemu:///session"
