"""Contract tests: real clients (ovirtsdk4, schemathesis) against a live ``virtfleet up`` engine.

The session starts ``virtfleet up --simulate 2`` as a subprocess on free ports with a random admin
password, waits for the API, and stops it by PID at the end. Every collection the tests use
exists, so a collection that answers 404 is a failure, not a skip. Run with
``.venv/bin/pytest tests/contract``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx
import ovirtsdk4 as sdk
import ovirtsdk4.types as types
import pytest

from support.ports import free_port, free_port_run, is_listening

ADMIN = "admin@internal"
SIMULATED_HOSTS = ("local", "sim-0001", "sim-0002")
LOCAL_STORAGE = "local-storage"
START_TIMEOUT_S = 90.0
FLEET_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 20.0

T = TypeVar("T")


@dataclass(frozen=True)
class LiveEngine:
    """Where a running engine answers, and how to log in to it."""

    process: subprocess.Popen[bytes]
    data_dir: Path
    port: int
    agent_ports: tuple[int, ...]
    password: str

    @property
    def base_url(self) -> str:
        return f"https://localhost:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/ovirt-engine/api"

    @property
    def ca_file(self) -> Path:
        return self.data_dir / "engine" / "pki" / "ca.crt"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "engine.log"

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    def http(self) -> httpx.Client:
        """A plain HTTP client logged in with Basic auth, JSON by default."""
        return httpx.Client(
            base_url=self.api_url,
            auth=(ADMIN, self.password),
            verify=self.ssl_context(),
            headers={"Accept": "application/json"},
            timeout=30.0,
        )

    def connect(self, password: str | None = None) -> sdk.Connection:
        return sdk.Connection(
            url=self.api_url,
            username=ADMIN,
            password=self.password if password is None else password,
            ca_file=str(self.ca_file),
        )

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def wait_until(
    probe: Callable[[], T | None], timeout: float, what: str, interval: float = 0.5
) -> T:
    """Poll ``probe`` until it returns something other than None, as the SDK examples do."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def wait_for_status(get: Callable[[], T], wanted: object, timeout: float = 60.0) -> T:
    """Wait for an SDK object's ``status`` to reach ``wanted``; return the object."""
    seen: list[object] = []

    def probe() -> T | None:
        obj = get()
        seen[:] = [getattr(obj, "status", None)]
        return obj if seen[0] == wanted else None

    try:
        return wait_until(probe, timeout, f"status {wanted}")
    except TimeoutError as exc:
        raise TimeoutError(f"{exc}; last status {seen[0] if seen else None}") from None


@dataclass(frozen=True)
class EngineSetup:
    """What one ``virtfleet up`` is started with; the same setup starts it again after a stop."""

    data_dir: Path
    port: int
    agent_base: int
    simulate: int
    password: str
    database_url: str | None = None

    @classmethod
    def fresh(cls, simulate: int, database_url: str | None = None) -> EngineSetup:
        return cls(
            data_dir=Path(tempfile.mkdtemp(prefix="virtfleet-contract-")),
            port=free_port(),
            agent_base=free_port_run(simulate + 1),
            simulate=simulate,
            password=secrets.token_urlsafe(16),
            database_url=database_url,
        )

    def command(self) -> list[str]:
        script = Path(sys.executable).parent / "virtfleet"
        args = [
            "up",
            "--data-dir",
            str(self.data_dir),
            "--port",
            str(self.port),
            "--agent-port",
            str(self.agent_base),
            "--simulate",
            str(self.simulate),
            "--local-driver",
            "test",
        ]
        if self.database_url is not None:
            args += ["--database-url", self.database_url]
        if script.exists():
            return [str(script), *args]
        return [sys.executable, "-c", "from virtfleet.cli.main import app; app()", *args]


def _health_ok(engine: LiveEngine) -> bool | None:
    if engine.process.poll() is not None:
        raise RuntimeError(
            f"the engine exited with {engine.process.returncode}:\n{engine.log_tail()}"
        )
    if not engine.ca_file.exists():
        return None
    try:
        reply = httpx.get(
            f"{engine.base_url}/ovirt-engine/services/health",
            verify=engine.ssl_context(),
            timeout=2.0,
        )
    except httpx.HTTPError:
        return None
    return True if reply.status_code == 200 else None


def stop_engine(engine: LiveEngine) -> None:
    """SIGTERM by PID, SIGKILL after a grace period; then nothing may listen on its ports."""
    process = engine.process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
            raise AssertionError(
                f"the engine ignored SIGTERM for {STOP_TIMEOUT_S:.0f}s:\n{engine.log_tail()}"
            ) from None
    busy = [p for p in (engine.port, *engine.agent_ports) if is_listening(p)]
    assert not busy, f"ports still listening after the engine stopped: {busy}"


@contextlib.contextmanager
def engine_process(setup: EngineSetup) -> Iterator[LiveEngine]:
    """``virtfleet up`` running for the block, stopped by PID after it; the data dir is kept."""
    env = dict(os.environ, VIRTFLEET_ADMIN_PASSWORD=setup.password)
    # without --database-url the engine keeps its embedded SQLite in data_dir, even during a
    # PostgreSQL test run
    env.pop("VIRTFLEET_DATABASE_URL", None)
    log = (setup.data_dir / "engine.log").open("ab")
    process = subprocess.Popen(
        setup.command(),
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    engine = LiveEngine(
        process=process,
        data_dir=setup.data_dir,
        port=setup.port,
        agent_ports=tuple(setup.agent_base + i for i in range(setup.simulate + 1)),
        password=setup.password,
    )
    try:
        wait_until(lambda: _health_ok(engine), START_TIMEOUT_S, "the engine's health check")
        yield engine
    finally:
        try:
            stop_engine(engine)
        finally:
            log.close()


@contextlib.contextmanager
def running_engine(simulate: int = 2) -> Iterator[LiveEngine]:
    """A ``virtfleet up`` subprocess with its own data dir, ports and admin password."""
    setup = EngineSetup.fresh(simulate)
    try:
        with engine_process(setup) as engine:
            yield engine
    finally:
        shutil.rmtree(setup.data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def engine() -> Iterator[LiveEngine]:
    with running_engine() as live:
        yield live


@pytest.fixture(scope="session")
def connection(engine: LiveEngine) -> Iterator[sdk.Connection]:
    conn = engine.connect()
    try:
        yield conn
    finally:
        conn.close()


@pytest.fixture
def system(connection: sdk.Connection) -> sdk.services.SystemService:
    return connection.system_service()


@dataclass(frozen=True)
class Fleet:
    """The hosts and storage of ``virtfleet up --simulate 2`` once they are ready."""

    hosts: dict[str, types.Host]
    storage: types.StorageDomain | None


def _hosts_up(system: sdk.services.SystemService) -> dict[str, types.Host] | None:
    hosts = {h.name: h for h in system.hosts_service().list()}
    ready = all(
        name in hosts and hosts[name].status == types.HostStatus.UP for name in SIMULATED_HOSTS
    )
    return {name: hosts[name] for name in SIMULATED_HOSTS} if ready else None


def _storage_active(system: sdk.services.SystemService) -> types.StorageDomain | None:
    found = system.storage_domains_service().list(search=f"name={LOCAL_STORAGE}")
    if not found:
        return None
    domain = found[0]
    if domain.status == types.StorageDomainStatus.ACTIVE:
        return domain
    # an attached domain reports its status through the data center
    if domain.data_centers:
        dc_id = domain.data_centers[0].id
        attached = (
            system.data_centers_service()
            .data_center_service(dc_id)
            .storage_domains_service()
            .storage_domain_service(domain.id)
            .get()
        )
        if attached.status == types.StorageDomainStatus.ACTIVE:
            return attached
    return None


@pytest.fixture(scope="session")
def hosts_up(engine: LiveEngine, connection: sdk.Connection) -> dict[str, types.Host]:
    """The three hosts of the fleet, once all are up."""
    system = connection.system_service()
    try:
        return wait_until(lambda: _hosts_up(system), FLEET_TIMEOUT_S, "hosts up")
    except TimeoutError as exc:
        statuses = {h.name: h.status for h in system.hosts_service().list()}
        raise AssertionError(f"{exc}: {statuses}\n{engine.log_tail()}") from None


@pytest.fixture(scope="session")
def local_storage(
    engine: LiveEngine, connection: sdk.Connection, hosts_up: dict[str, types.Host]
) -> types.StorageDomain:
    """The ``local-storage`` data domain, once active in the Default data center."""
    system = connection.system_service()
    try:
        return wait_until(lambda: _storage_active(system), FLEET_TIMEOUT_S, "local-storage")
    except TimeoutError as exc:
        found = system.storage_domains_service().list()
        statuses = {d.name: d.status for d in found}
        raise AssertionError(f"{exc}: {statuses}\n{engine.log_tail()}") from None


def unique_name(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


class VmFactory:
    """Adds VMs from Blank in Default as add_vm.py does, and removes them all afterwards."""

    def __init__(self, system: sdk.services.SystemService) -> None:
        self.vms = system.vms_service()
        self.created: list[str] = []

    def add(self, name: str | None = None, cluster: str = "Default") -> types.Vm:
        vm = self.vms.add(
            types.Vm(
                name=name or unique_name("vm"),
                cluster=types.Cluster(name=cluster),
                template=types.Template(name="Blank"),
                memory=256 * 2**20,
            )
        )
        self.created.append(vm.id)
        return vm

    def add_down(self, name: str | None = None) -> types.Vm:
        vm = self.add(name)
        service = self.vms.vm_service(vm.id)
        wait_for_status(service.get, types.VmStatus.DOWN, timeout=60)
        return service.get()

    def cleanup(self) -> None:
        for vm_id in reversed(self.created):
            service = self.vms.vm_service(vm_id)
            try:
                if service.get().status != types.VmStatus.DOWN:
                    service.stop()
                    wait_for_status(service.get, types.VmStatus.DOWN, timeout=60)
                service.remove()
            except sdk.NotFoundError:
                continue


@pytest.fixture
def vm_factory(system: sdk.services.SystemService) -> Iterator[VmFactory]:
    factory = VmFactory(system)
    try:
        yield factory
    finally:
        factory.cleanup()
