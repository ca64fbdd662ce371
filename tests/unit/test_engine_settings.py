"""Engine and agent settings files: every key applied, or the start refused naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from virtfleet.agent.config import AgentConfig
from virtfleet.cli.main import app
from virtfleet.common.errors import InvalidInput
from virtfleet.common.pki import certificate_names
from virtfleet.engine.config import DATABASE_URL_ENV, EngineConfig
from virtfleet.engine.tls import ensure_engine_tls


def _write(tmp_path: Path, text: str, name: str = "engine.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _refusal(args: list[str]) -> str:
    """Run the CLI, expect the one-line refusal (exit 1, no traceback) and return its text."""
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return " ".join(result.output.split())


def test_engine_refuses_an_unknown_setting_naming_it(tmp_path: Path) -> None:
    config = _write(tmp_path, 'data_dir = "state"\nlisten_adress = "0.0.0.0"\n')
    assert "unknown setting 'listen_adress'" in _refusal(["engine", "--config", str(config)])


def test_engine_refuses_a_bad_value_naming_the_setting(tmp_path: Path) -> None:
    config = _write(tmp_path, 'data_dir = "state"\nport = 70000\n')
    text = _refusal(["engine", "--config", str(config)])
    assert "setting 'port'" in text and "65535" in text


def test_engine_refuses_a_file_that_is_not_toml(tmp_path: Path) -> None:
    config = _write(tmp_path, "data_dir = \n")
    assert "cannot read the engine config" in _refusal(["engine", "--config", str(config)])


def test_engine_settings_need_a_data_dir(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="missing setting 'data_dir'"):
        EngineConfig.load(_write(tmp_path, "port = 8443\n"))


def test_engine_refuses_a_database_it_cannot_run_on(tmp_path: Path) -> None:
    path = _write(tmp_path, 'data_dir = "s"\ndatabase_url = "mysql://u:p@db/virtfleet"\n')
    with pytest.raises(InvalidInput, match=r"setting 'database_url'.*'mysql' is not supported"):
        EngineConfig.load(path)


def test_a_libpq_style_postgresql_url_runs_on_psycopg(tmp_path: Path) -> None:
    path = _write(tmp_path, 'data_dir = "s"\ndatabase_url = "postgresql://u:p@db:5432/vf"\n')
    assert EngineConfig.load(path).effective_database_url == "postgresql+psycopg://u:p@db:5432/vf"


def test_the_database_url_from_the_environment_is_checked_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DATABASE_URL_ENV, "oracle://db/x")
    with pytest.raises(InvalidInput, match=DATABASE_URL_ENV):
        _ = EngineConfig(data_dir=tmp_path).effective_database_url


def test_a_grace_period_shorter_than_the_heartbeat_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, 'data_dir = "s"\nhost_heartbeat_interval_s = 5\nhost_grace_s = 2\n')
    with pytest.raises(InvalidInput, match="host_grace_s must be longer"):
        EngineConfig.load(path)


def test_an_unknown_log_level_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="setting 'log_level'"):
        EngineConfig.load(_write(tmp_path, 'data_dir = "s"\nlog_level = "LOUD"\n'))


def test_a_relative_data_dir_is_taken_from_the_files_directory(tmp_path: Path) -> None:
    assert EngineConfig.load(_write(tmp_path, 'data_dir = "state"\n')).data_dir == (
        tmp_path / "state"
    )


def test_agent_refuses_a_bad_value_naming_the_setting(tmp_path: Path) -> None:
    config = _write(tmp_path, 'data_dir = "s"\nstats_interval_s = 0\n', "agent.toml")
    assert "setting 'stats_interval_s'" in _refusal(["agent", "--config", str(config)])


def test_agent_no_longer_accepts_a_storage_root_it_never_used(tmp_path: Path) -> None:
    path = _write(tmp_path, 'data_dir = "s"\nstorage_root = "/srv"\n', "agent.toml")
    with pytest.raises(InvalidInput, match="unknown setting 'storage_root'"):
        AgentConfig.load(path)


def test_up_refuses_a_database_url_it_cannot_run_on(tmp_path: Path) -> None:
    args = ["up", "--data-dir", str(tmp_path), "--local-driver", "test"]
    text = _refusal([*args, "--database-url", "nonsense"])
    assert "setting 'database_url'" in text and "not a database URL" in text


def test_a_new_public_name_gets_a_new_https_certificate(tmp_path: Path) -> None:
    first = ensure_engine_tls(tmp_path, public_host=None, listen_host="127.0.0.1")
    assert "engine.example.org" not in certificate_names(first.cert_file.read_bytes())
    renamed = ensure_engine_tls(tmp_path, public_host="engine.example.org", listen_host="0.0.0.0")
    assert "engine.example.org" in certificate_names(renamed.cert_file.read_bytes())


def test_an_unchanged_public_name_keeps_the_https_certificate(tmp_path: Path) -> None:
    first = ensure_engine_tls(tmp_path, public_host="engine.example.org", listen_host="0.0.0.0")
    pem = first.cert_file.read_bytes()
    again = ensure_engine_tls(tmp_path, public_host="engine.example.org", listen_host="0.0.0.0")
    assert again.cert_file.read_bytes() == pem
