"""The production install's files: example settings that load, systemd units that verify and
agree with them, and an install guide that lists every setting."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel

from virtfleet.agent.config import AgentConfig
from virtfleet.engine.config import EngineConfig

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"
UNITS = PACKAGING / "systemd"
INSTALL_DOC = ROOT / "docs" / "install.md"
INSTALLED_CLI = "/opt/virtfleet/bin/virtfleet"
STATE_ROOT = Path("/var/lib")


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(UNITS / name)
    return parser


@pytest.mark.parametrize(
    ("unit", "command", "model"),
    [
        ("virtfleet-engine.service", "engine", EngineConfig),
        ("virtfleet-agent.service", "agent", AgentConfig),
    ],
)
def test_each_unit_runs_its_example_settings_in_its_state_directory(
    unit: str, command: str, model: type[EngineConfig] | type[AgentConfig]
) -> None:
    service = _unit(unit)["Service"]
    program, verb, flag, config_path = service["ExecStart"].split()
    assert (program, verb, flag) == (INSTALLED_CLI, command, "--config")
    example = PACKAGING / Path(config_path).name
    settings = model.load(example)
    assert settings.data_dir == STATE_ROOT / service["StateDirectory"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze missing")
@pytest.mark.parametrize("unit", ["virtfleet-engine.service", "virtfleet-agent.service"])
def test_systemd_accepts_each_unit_without_a_warning(unit: str, tmp_path: Path) -> None:
    # systemd checks that the program exists: point the copy at this checkout's command
    here = Path(sys.executable).parent / "virtfleet"
    copy = tmp_path / unit
    copy.write_text((UNITS / unit).read_text().replace(INSTALLED_CLI, str(here)))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr


def _settings_of(model: type[BaseModel]) -> list[str]:
    return list(model.model_fields)


@pytest.mark.parametrize("model", [EngineConfig, AgentConfig])
def test_the_install_guide_lists_every_setting(model: type[BaseModel]) -> None:
    guide = INSTALL_DOC.read_text()
    missing = [name for name in _settings_of(model) if f"| `{name}` |" not in guide]
    assert not missing, f"docs/install.md does not list {missing}"
