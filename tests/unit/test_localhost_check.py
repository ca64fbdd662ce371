"""The preflight of ``virtfleet up``'s real local host: one message per missing piece."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from virtfleet.common.errors import VirtfleetError
from virtfleet.localhost_check import (
    SESSION_URI,
    SYSTEM_URI,
    LocalMachine,
    check_local_host,
    default_uri,
    qemu_user,
)
from virtfleet.localhost_libvirtd import systemd_running

DOWN = "Failed to connect socket to '/var/run/libvirt/libvirt-sock': No such file or directory"
DENIED = "Failed to connect socket to '/var/run/libvirt/libvirt-sock': Permission denied"
ALL_TOOLS = {"qemu-system-x86_64", "qemu-img", "libvirtd"}
OPEN_STORAGE = Path("/var/lib/virtfleet-unit-test-never-created/storage")


@dataclass
class FakeMachine:
    """A machine with the given tools and daemon answers; records the daemons it started."""

    tools: set[str] = field(default_factory=lambda: set(ALL_TOOLS))
    binding: bool = True
    answers: list[str | None] = field(default_factory=lambda: [None])
    uid: int = 0
    systemd: bool = False
    user: str = "libvirt-qemu"
    started: list[str] = field(default_factory=list)
    connected: list[str] = field(default_factory=list)

    def _connect(self, uri: str) -> str | None:
        self.connected.append(uri)
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]

    def machine(self) -> LocalMachine:
        def which(name: str) -> str | None:
            return f"/usr/bin/{name}" if name in self.tools else None

        start: Callable[[], None] = lambda: self.started.append("libvirtd")  # noqa: E731
        return LocalMachine(
            which=which,
            has_module=lambda name: self.binding,
            connect=self._connect,
            euid=lambda: self.uid,
            systemd=lambda: self.systemd,
            start_libvirtd=start,
            read_qemu_user=lambda: self.user,
        )


def _message(fake: FakeMachine, uri: str = SYSTEM_URI, storage: Path | None = None) -> str:
    with pytest.raises(VirtfleetError) as caught:
        check_local_host(uri, storage or OPEN_STORAGE, fake.machine())
    assert caught.value.reason == "The local host cannot start"
    return caught.value.detail


def test_root_gets_the_system_daemon() -> None:
    assert default_uri(0) == SYSTEM_URI


def test_an_ordinary_user_gets_a_session_daemon() -> None:
    assert default_uri(1000) == SESSION_URI


def test_a_complete_machine_passes_without_starting_anything() -> None:
    fake = FakeMachine()
    check_local_host(SYSTEM_URI, OPEN_STORAGE, fake.machine())
    assert fake.started == []
    assert fake.connected == [SYSTEM_URI]


def test_a_missing_binding_names_pip_and_the_debian_package() -> None:
    message = _message(FakeMachine(binding=False))
    assert "pip install libvirt-python" in message
    assert "python3-libvirt" in message


def test_missing_qemu_names_both_debian_packages() -> None:
    message = _message(FakeMachine(tools={"libvirtd"}))
    assert "apt-get install qemu-system-x86 qemu-utils" in message


def test_missing_qemu_img_alone_names_qemu_utils() -> None:
    message = _message(FakeMachine(tools={"libvirtd", "qemu-system-x86_64"}))
    assert message.endswith("`apt-get install qemu-utils`")


def test_a_missing_daemon_names_libvirt_daemon_system() -> None:
    message = _message(FakeMachine(tools={"qemu-system-x86_64", "qemu-img"}, answers=[DOWN]))
    assert "apt-get install libvirt-daemon-system" in message


def test_a_stopped_daemon_under_systemd_says_how_to_start_it() -> None:
    fake = FakeMachine(answers=[DOWN], systemd=True)
    assert "systemctl start libvirtd" in _message(fake)
    assert fake.started == []


def test_without_systemd_root_starts_the_daemon_and_connects() -> None:
    fake = FakeMachine(answers=[DOWN, None])
    check_local_host(SYSTEM_URI, OPEN_STORAGE, fake.machine())
    assert fake.started == ["libvirtd"]
    assert fake.connected == [SYSTEM_URI, SYSTEM_URI]


def test_a_daemon_that_still_refuses_after_its_start_is_reported() -> None:
    fake = FakeMachine(answers=[DOWN, DOWN])
    assert f"cannot connect to libvirt at {SYSTEM_URI}" in _message(fake)
    assert fake.started == ["libvirtd"]


def test_an_ordinary_user_is_never_made_to_start_the_system_daemon() -> None:
    fake = FakeMachine(answers=[DOWN], uid=1000)
    assert "sudo systemctl start libvirtd" in _message(fake)
    assert fake.started == []


def test_an_ordinary_user_without_access_to_the_system_daemon_is_told_the_group() -> None:
    message = _message(FakeMachine(answers=[DENIED], uid=1000))
    assert "adduser $USER libvirt" in message
    assert f"--libvirt-uri {SESSION_URI}" in message


def test_a_session_daemon_failure_is_reported_with_libvirts_reason() -> None:
    message = _message(FakeMachine(answers=["internal error: no qemu"], uid=1000), SESSION_URI)
    assert message == f"cannot connect to libvirt at {SESSION_URI}: internal error: no qemu"


def test_storage_closed_to_qemus_user_is_refused_under_the_system_daemon(tmp_path: Path) -> None:
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    message = _message(FakeMachine(), storage=closed / "data" / "storage")
    assert f"chmod o+x {closed}" in message
    assert "libvirt-qemu" in message


def test_storage_closed_to_others_is_fine_when_qemu_runs_as_root(tmp_path: Path) -> None:
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    check_local_host(SYSTEM_URI, closed / "storage", FakeMachine(user="root").machine())


def test_storage_closed_to_others_is_fine_for_a_session_daemon(tmp_path: Path) -> None:
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    check_local_host(SESSION_URI, closed / "storage", FakeMachine(uid=1000).machine())


def test_the_qemu_user_is_read_from_the_last_user_line_of_qemu_conf(tmp_path: Path) -> None:
    conf = tmp_path / "qemu.conf"
    conf.write_text('#user = "nobody"\nuser = "libvirt-qemu"\n  user = "root"\n')
    assert qemu_user(conf) == "root"


def test_the_qemu_user_defaults_to_debians_without_a_setting(tmp_path: Path) -> None:
    conf = tmp_path / "qemu.conf"
    conf.write_text('# user = "root"\n')
    assert qemu_user(conf) == "libvirt-qemu"
    assert qemu_user(tmp_path / "missing.conf") == "libvirt-qemu"


def test_systemd_is_recognised_by_its_runtime_directory(tmp_path: Path) -> None:
    assert not systemd_running(tmp_path / "systemd" / "system")
    (tmp_path / "systemd" / "system").mkdir(parents=True)
    assert systemd_running(tmp_path / "systemd" / "system")
