"""A running multi-host testbed: bring-up with rollback, commands inside hosts, teardown."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from virtfleet.common.errors import Conflict, InvalidInput, NotFound
from virtfleet.testbed import daemons, namespaces
from virtfleet.testbed.plan import DEFAULT_PREFIX, DEFAULT_SUBNET, TestbedPlan, plan_testbed
from virtfleet.testbed.proc import DEFAULT_TIMEOUT, TestbedError, run
from virtfleet.testbed.processes import is_alive, terminate
from virtfleet.testbed.state import DaemonPids, TestbedState

log = logging.getLogger(__name__)
_REQUIRED_TOOLS = ("ip", "unshare", "mount", "libvirtd", "virtlogd")


@dataclass(frozen=True)
class TestbedHost:
    """What a test or agent needs to know about one simulated host."""

    __test__ = False

    name: str
    address: str
    netns: str
    libvirt_uri: str
    host_uuid: str


@dataclass(frozen=True)
class HostStatus:
    host: TestbedHost
    netns_present: bool
    libvirtd_pid: int | None
    libvirtd_alive: bool
    virtlogd_pid: int | None
    virtlogd_alive: bool


class Testbed:
    """N hosts on this machine, each a network namespace with its own libvirtd."""

    __test__ = False

    def __init__(self, state: TestbedState) -> None:
        self._state = state

    @classmethod
    def up(
        cls,
        base_dir: Path,
        hosts: int,
        *,
        prefix: str = DEFAULT_PREFIX,
        subnet: str = DEFAULT_SUBNET,
        libvirt_etc: Path = daemons.SYSTEM_LIBVIRT_ETC,
    ) -> Testbed:
        """Create every host or nothing: any failure removes what was made and re-raises."""
        plan = plan_testbed(base_dir, hosts, prefix=prefix, subnet=subnet)
        _check_can_create(plan)
        plan.base_dir.mkdir(parents=True, exist_ok=True)
        state = TestbedState(plan=plan)
        state.save()
        try:
            _bring_up(state, libvirt_etc)
        except BaseException:
            log.error("testbed bring-up failed, removing what was created base=%s", plan.base_dir)
            try:
                _tear_down(state)
            except TestbedError:
                log.exception("rollback of the testbed left something behind")
            raise
        return cls(state)

    @classmethod
    def load(cls, base_dir: Path) -> Testbed:
        """The testbed another process brought up in ``base_dir``."""
        return cls(TestbedState.load(base_dir))

    @property
    def base_dir(self) -> Path:
        return self._state.plan.base_dir

    @property
    def shared_dir(self) -> Path:
        """A directory at the same path on every host: the testbed's shared storage."""
        return self._state.plan.shared_dir

    @property
    def bridge(self) -> str:
        return self._state.plan.bridge

    @property
    def plan(self) -> TestbedPlan:
        return self._state.plan

    @property
    def hosts(self) -> list[TestbedHost]:
        return [
            TestbedHost(
                name=h.name,
                address=h.address,
                netns=h.netns,
                libvirt_uri=h.libvirt_uri,
                host_uuid=h.host_uuid,
            )
            for h in self._state.plan.hosts
        ]

    def host(self, name: str) -> TestbedHost:
        for host in self.hosts:
            if host.name == name:
                return host
        raise NotFound(f"testbed has no host {name!r}")

    def run_in(
        self, host: TestbedHost | str, argv: Sequence[str], *, timeout: float = DEFAULT_TIMEOUT
    ) -> str:
        """Run ``argv`` in the host's network namespace; return stdout, raise on failure."""
        return run(["ip", "netns", "exec", self._netns(host), *argv], timeout=timeout)

    def spawn_in(
        self,
        host: TestbedHost | str,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        **popen_kwargs: Any,
    ) -> subprocess.Popen[bytes]:
        """Start ``argv`` in the host's network namespace (the root's files, the host's network).

        `ip netns exec` execs the command, so the returned Popen's PID is the process itself.
        """
        return subprocess.Popen(
            ["ip", "netns", "exec", self._netns(host), *argv],
            env=dict(env) if env is not None else None,
            **popen_kwargs,
        )

    def status(self) -> list[HostStatus]:
        result = []
        for plan_host, host in zip(self._state.plan.hosts, self.hosts, strict=True):
            pids = self._state.pids.get(plan_host.name, DaemonPids())
            result.append(
                HostStatus(
                    host=host,
                    netns_present=namespaces.netns_exists(plan_host.netns),
                    libvirtd_pid=pids.libvirtd,
                    libvirtd_alive=pids.libvirtd is not None
                    and is_alive(pids.libvirtd, "libvirtd"),
                    virtlogd_pid=pids.virtlogd,
                    virtlogd_alive=pids.virtlogd is not None
                    and is_alive(pids.virtlogd, "virtlogd"),
                )
            )
        return result

    def down(self) -> None:
        """Stop every process in the hosts, delete namespaces, links and the base directory."""
        _tear_down(self._state)

    def __enter__(self) -> Testbed:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.down()

    def _netns(self, host: TestbedHost | str) -> str:
        return (self.host(host) if isinstance(host, str) else host).netns


def _check_can_create(plan: TestbedPlan) -> None:
    """Refuse before touching anything, so rollback never removes what someone else made."""
    if os.geteuid() != 0:
        raise TestbedError("the testbed needs root (network namespaces, bind mounts)")
    missing = [tool for tool in _REQUIRED_TOOLS if shutil.which(tool) is None]
    if missing:
        raise TestbedError(f"missing tools for the testbed: {', '.join(missing)}")
    if plan.state_file.exists():
        raise Conflict(f"a testbed is already up in {plan.base_dir}")
    if plan.base_dir.exists() and any(plan.base_dir.iterdir()):
        raise InvalidInput(f"testbed base directory {plan.base_dir} is not empty")
    taken = [h.netns for h in plan.hosts if namespaces.netns_exists(h.netns)]
    taken += [h.veth_root for h in plan.hosts if namespaces.link_exists(h.veth_root)]
    if namespaces.link_exists(plan.bridge):
        taken.append(plan.bridge)
    if taken:
        raise Conflict(f"testbed names already in use: {', '.join(taken)}")


def _bring_up(state: TestbedState, libvirt_etc: Path) -> None:
    plan = state.plan
    daemons.ensure_mount_points()
    plan.shared_dir.mkdir()
    namespaces.create_bridge(plan.bridge, plan.bridge_address, plan.hosts[0].prefix_len)
    for host in plan.hosts:
        daemons.prepare_host_dirs(host, libvirt_etc)
        namespaces.create_netns(host.netns)
        namespaces.connect_host(host, plan.bridge)
        libvirtd, virtlogd = daemons.start_daemons(host)
        state.pids[host.name] = DaemonPids(libvirtd=libvirtd, virtlogd=virtlogd)
        state.save()
        log.info(
            "testbed host up name=%s address=%s libvirtd_pid=%d", host.name, host.address, libvirtd
        )
    state.complete = True
    state.save()


def _tear_down(state: TestbedState) -> None:
    """Remove everything the state names, whatever is left of it; raise if something remains."""
    plan = state.plan
    daemon_pids: list[tuple[int, str | None]] = []
    for pids in state.pids.values():
        if pids.libvirtd is not None:
            daemon_pids.append((pids.libvirtd, "libvirtd"))
        if pids.virtlogd is not None:
            daemon_pids.append((pids.virtlogd, "virtlogd"))
    terminate(daemon_pids)
    # QEMU guests, agents and anything else started inside the hosts.
    for _ in range(3):
        stray = [(pid, None) for h in plan.hosts for pid in namespaces.netns_pids(h.netns)]
        if not stray:
            break
        terminate(stray)
    errors: list[str] = []
    for host in plan.hosts:
        _attempt(errors, namespaces.delete_netns, host.netns)
        _attempt(errors, namespaces.delete_link, host.veth_root)
    _attempt(errors, namespaces.delete_link, plan.bridge)
    shutil.rmtree(plan.base_dir, ignore_errors=True)
    if plan.base_dir.exists():
        errors.append(f"could not remove {plan.base_dir}")
    if errors:
        raise TestbedError("testbed teardown incomplete: " + "; ".join(errors))
    log.info("testbed down base=%s", plan.base_dir)


def _attempt(errors: list[str], step: Callable[[str], None], name: str) -> None:
    try:
        step(name)
    except TestbedError as exc:
        errors.append(exc.detail)
