"""The agent protocol end to end on loopback: enrollment, mutual TLS, calls, pushed events."""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from virtfleet.agent.config import AgentConfig
from virtfleet.agent.hypervisor.base import ConsoleOutput, HypervisorDriver, SerialConsole
from virtfleet.agent.server import AgentServer
from virtfleet.common import pki, rpc
from virtfleet.common import protocol as p
from virtfleet.common.errors import (
    AgentError,
    Conflict,
    HostUnreachable,
    InvalidInput,
    NotAuthenticated,
    NotFound,
)
from virtfleet.engine.agentclient import AgentClient, engine_client_context, enroll_agent

SECRET = "correct horse battery staple"
LOOPBACK = "127.0.0.1"


class FakeDriver(HypervisorDriver):
    """A hypervisor in a dict; lifecycle events come from the calling worker thread."""

    def __init__(self) -> None:
        self.vms: dict[str, p.VmState] = {}
        self.callbacks: list[Callable[[p.VmState], None]] = []
        self.shutdown_delay_s = 0.0

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def capabilities(self) -> p.HostCapabilities:
        return p.HostCapabilities(
            protocol_version=p.PROTOCOL_VERSION,
            host_uuid="fake",
            hostname="fake-host",
            hypervisor=p.Hypervisor.TEST,
            driver_uri="test:///default",
            cpu_model="fake",
            cpu_sockets=1,
            cpu_cores=4,
            cpu_threads=1,
            memory_bytes=8 << 30,
            libvirt_version="0",
            agent_version="0",
        )

    def host_stats(self) -> p.HostStats:
        return p.HostStats(
            cpu_user_pct=1.0,
            cpu_system_pct=1.0,
            cpu_idle_pct=98.0,
            memory_total_bytes=8 << 30,
            memory_free_bytes=4 << 30,
            vms_total=len(self.vms),
            vms_running=len(self.vms),
            load_avg_1m=0.1,
        )

    def _set(self, vm_id: str, state: p.VmRunState) -> p.VmState:
        vm = p.VmState(vm_id=vm_id, state=state)
        self.vms[vm_id] = vm
        for callback in self.callbacks:
            callback(vm)
        return vm

    def _get(self, vm_id: str) -> p.VmState:
        if vm_id not in self.vms:
            raise NotFound(f"no VM {vm_id} on this host")
        return self.vms[vm_id]

    def create_vm(self, spec: p.VmSpec) -> p.VmState:
        return self._set(spec.id, p.VmRunState.RUNNING)

    def destroy_vm(self, vm_id: str) -> p.VmState:
        self._get(vm_id)
        return self._set(vm_id, p.VmRunState.DOWN)

    def shutdown_vm(self, vm_id: str, timeout_s: float) -> p.VmState:
        time.sleep(self.shutdown_delay_s)
        self._get(vm_id)
        return self._set(vm_id, p.VmRunState.DOWN)

    def reboot_vm(self, vm_id: str) -> p.VmState:
        return self._get(vm_id)

    def pause_vm(self, vm_id: str) -> p.VmState:
        self._get(vm_id)
        return self._set(vm_id, p.VmRunState.PAUSED)

    def resume_vm(self, vm_id: str) -> p.VmState:
        self._get(vm_id)
        return self._set(vm_id, p.VmRunState.RUNNING)

    def suspend_vm(self, vm_id: str) -> p.VmState:
        self._get(vm_id)
        return self._set(vm_id, p.VmRunState.SUSPENDED)

    def list_vms(self) -> list[p.VmState]:
        return list(self.vms.values())

    def vm_stats(self) -> list[p.VmStats]:
        return [p.VmStats(vm_id=v, cpu_pct=1.0, memory_used_bytes=1 << 20) for v in self.vms]

    def subscribe(self, callback: Callable[[p.VmState], None]) -> None:
        self.callbacks.append(callback)

    def set_display_ticket(self, ticket: p.DisplayTicket) -> p.DisplayEndpoint:
        return self.display_endpoint(ticket.vm_id, ticket.protocol)

    def display_endpoint(self, vm_id: str, protocol: str) -> p.DisplayEndpoint:
        self._get(vm_id)
        return p.DisplayEndpoint(vm_id=vm_id, protocol=protocol, address=LOOPBACK, port=5900)

    def plug_nic(self, vm_id: str, nic: p.NicSpec) -> str:
        self._get(vm_id)
        return nic.mac

    def unplug_nic(self, vm_id: str, mac: str) -> None:
        self._get(vm_id)

    def plug_disk(self, vm_id: str, disk: p.DiskSpec) -> str:
        self._get(vm_id)
        return "vdb"

    def unplug_disk(self, vm_id: str, path: str) -> None:
        self._get(vm_id)

    def open_serial_console(self, vm_id: str, on_output: ConsoleOutput) -> SerialConsole:
        self._get(vm_id)
        raise Conflict(f"VM {vm_id} has no serial console here")


class FakeStorage:
    """Storage domains in a dict; volumes are not needed here."""

    def __init__(self) -> None:
        self.domains: dict[str, p.DomainInfo] = {}

    def create_domain(self, spec: p.DomainCreate) -> p.DomainInfo:
        info = p.DomainInfo(domain_id=spec.domain_id, total_bytes=100, free_bytes=100)
        self.domains[spec.domain_id] = info
        return info

    def connect_domain(self, ref: p.DomainRef) -> p.DomainInfo:
        return self.domain_info(ref)

    def domain_info(self, ref: p.DomainRef) -> p.DomainInfo:
        if ref.domain_id not in self.domains:
            raise NotFound(f"no storage domain {ref.domain_id} at {ref.path}")
        return self.domains[ref.domain_id]

    def remove_domain(self, ref: p.DomainRef) -> None:
        self.domains.pop(ref.domain_id, None)

    def domain_usage(self, ref: p.DomainRef) -> p.DomainUsage:
        info = self.domain_info(ref)
        return p.DomainUsage(
            domain_id=info.domain_id,
            total_bytes=info.total_bytes,
            free_bytes=info.free_bytes,
            volumes=[],
        )

    def create_volume(self, spec: p.VolumeCreate) -> p.VolumeInfo:
        raise NotImplementedError

    def volume_info(self, ref: p.VolumeRef) -> p.VolumeInfo:
        raise NotImplementedError

    def remove_volume(self, ref: p.VolumeRef) -> None:
        raise NotImplementedError


def _config(tmp_path: Path, **overrides: object) -> AgentConfig:
    fields: dict[str, object] = {
        "listen_host": LOOPBACK,
        "port": 0,
        "data_dir": tmp_path / "agent",
        "driver_uri": "test:///default",
        "enrollment_secret": SECRET,
        "stats_interval_s": 0.1,
    }
    fields.update(overrides)
    return AgentConfig.model_validate(fields)


@pytest.fixture
def driver() -> FakeDriver:
    return FakeDriver()


@pytest.fixture
def ca(tmp_path: Path) -> pki.CertificateAuthority:
    return pki.CertificateAuthority.load_or_create(tmp_path / "engine-ca")


@pytest.fixture
def engine_ctx(ca: pki.CertificateAuthority) -> ssl.SSLContext:
    return engine_client_context(ca.directory)


@pytest.fixture
def bootstrap_ctx() -> ssl.SSLContext:
    return pki.client_ssl_context(ca_file=None, cert_file=None, key_file=None, verify=False)


@pytest.fixture
async def agent(tmp_path: Path, driver: FakeDriver) -> AsyncIterator[AgentServer]:
    server = AgentServer(_config(tmp_path), driver, FakeStorage())
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def enrolled(agent: AgentServer, ca: pki.CertificateAuthority) -> AgentServer:
    await enroll_agent(LOOPBACK, agent.port, SECRET, ca)
    return agent


@pytest.fixture
async def engine(enrolled: AgentServer, engine_ctx: ssl.SSLContext) -> AsyncIterator[AgentClient]:
    async with AgentClient(LOOPBACK, enrolled.port, engine_ctx) as client:
        yield client


class Inbox:
    """Collects pushed notifications for a test to wait on."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[str, p.Wire]] = asyncio.Queue()

    async def __call__(self, name: str, params: p.Wire) -> None:
        await self.queue.put((name, params))

    async def next(self, name: str, timeout: float = 5.0) -> p.Wire:
        async with asyncio.timeout(timeout):
            while True:
                got, params = await self.queue.get()
                if got == name:
                    return params


async def test_enrollment_returns_the_agents_identity(
    agent: AgentServer, ca: pki.CertificateAuthority
) -> None:
    offer = await enroll_agent(LOOPBACK, agent.port, SECRET, ca)
    assert offer.host_uuid == agent.identity.host_uuid
    assert agent.enrolled
    assert pki.is_issued_by(agent.identity.cert_file.read_bytes(), ca.cert_pem)


async def test_enrolled_agent_answers_capabilities_over_mutual_tls(engine: AgentClient) -> None:
    caps = await engine.call(p.HOST_GET_CAPABILITIES, p.Empty())
    assert caps.protocol_version == p.PROTOCOL_VERSION
    assert caps.hostname == "fake-host"


async def test_concurrent_calls_on_one_connection_each_get_their_answer(
    engine: AgentClient,
) -> None:
    specs = [p.VmSpec(id=f"vm-{i}", name=f"vm{i}", memory_bytes=1 << 30) for i in range(20)]
    states = await asyncio.gather(*(engine.call(p.VM_CREATE, spec) for spec in specs))
    assert [s.vm_id for s in states] == [spec.id for spec in specs]


async def test_vm_state_change_is_pushed_to_the_engine(
    enrolled: AgentServer, engine_ctx: ssl.SSLContext, driver: FakeDriver
) -> None:
    inbox = Inbox()
    async with AgentClient(LOOPBACK, enrolled.port, engine_ctx, on_notification=inbox) as client:
        await client.call(p.VM_CREATE, p.VmSpec(id="vm-1", name="one", memory_bytes=1 << 30))
        event = await inbox.next(p.VM_STATE_CHANGED.name)
    assert event == p.VmState(vm_id="vm-1", state=p.VmRunState.RUNNING)


async def test_state_change_reported_from_a_foreign_thread_is_pushed(
    enrolled: AgentServer, engine_ctx: ssl.SSLContext, driver: FakeDriver
) -> None:
    inbox = Inbox()
    async with AgentClient(LOOPBACK, enrolled.port, engine_ctx, on_notification=inbox) as client:
        await client.call(p.HOST_PING, p.Empty())
        crashed = p.VmState(vm_id="vm-9", state=p.VmRunState.CRASHED, reason="guest panic")
        thread = threading.Thread(target=lambda: [cb(crashed) for cb in driver.callbacks])
        thread.start()
        thread.join()
        assert await inbox.next(p.VM_STATE_CHANGED.name) == crashed


async def test_host_stats_are_pushed_every_interval(
    enrolled: AgentServer, engine_ctx: ssl.SSLContext
) -> None:
    inbox = Inbox()
    async with AgentClient(LOOPBACK, enrolled.port, engine_ctx, on_notification=inbox):
        report = await inbox.next(p.HOST_STATS_REPORT.name)
        assert isinstance(report, p.StatsReport)
        assert report.host.memory_total_bytes == 8 << 30
        await inbox.next(p.HOST_STATS_REPORT.name)


async def test_a_reconnecting_engine_gets_the_notifications(
    enrolled: AgentServer, engine_ctx: ssl.SSLContext, driver: FakeDriver
) -> None:
    old_inbox, new_inbox = Inbox(), Inbox()
    async with (
        AgentClient(LOOPBACK, enrolled.port, engine_ctx, on_notification=old_inbox) as old,
        AgentClient(LOOPBACK, enrolled.port, engine_ctx, on_notification=new_inbox) as new,
    ):
        await new.call(p.VM_CREATE, p.VmSpec(id="vm-2", name="two", memory_bytes=1 << 30))
        assert await new_inbox.next(p.VM_STATE_CHANGED.name) == driver.vms["vm-2"]
        assert old.connected
        assert old_inbox.queue.empty()


async def test_driver_not_found_reaches_the_engine_as_not_found_with_its_detail(
    engine: AgentClient,
) -> None:
    with pytest.raises(NotFound, match="no VM ghost on this host"):
        await engine.call(p.VM_DESTROY, p.VmRef(vm_id="ghost"))


async def test_storage_calls_reach_the_storage_backend(engine: AgentClient) -> None:
    create = p.DomainCreate(domain_id="d1", path="/srv", name="data", storage_type="posixfs")
    await engine.call(p.STORAGE_CREATE_DOMAIN, create)
    info = await engine.call(p.STORAGE_GET_DOMAIN_INFO, p.DomainRef(domain_id="d1", path="/srv"))
    assert info.total_bytes == 100
    await engine.call(p.STORAGE_REMOVE_DOMAIN, p.DomainRef(domain_id="d1", path="/srv"))
    with pytest.raises(NotFound):
        await engine.call(p.STORAGE_GET_DOMAIN_INFO, p.DomainRef(domain_id="d1", path="/srv"))


async def test_bad_params_give_invalid_input_and_the_connection_keeps_working(
    enrolled: AgentServer, engine_ctx: ssl.SSLContext
) -> None:
    async with connect(f"wss://{LOOPBACK}:{enrolled.port}/", ssl=engine_ctx, proxy=None) as ws:
        await ws.send(
            json.dumps({"jsonrpc": "2.0", "id": 1, "method": "VM.destroy", "params": {"vm_id": 5}})
        )
        reply = rpc.decode_message(await ws.recv())
        assert isinstance(reply, rpc.ErrorResponse)
        assert type(rpc.exception_for_error(reply)) is InvalidInput
        assert "vm_id" in reply.message
        await ws.send(rpc.encode_request(2, p.HOST_PING.name, p.Empty()))
        assert isinstance(rpc.decode_message(await ws.recv()), rpc.Response)


async def test_unknown_fields_in_params_give_invalid_input(engine: AgentClient) -> None:
    with pytest.raises(InvalidInput):
        await engine.call(p.VM_DESTROY, p.VmShutdown(vm_id="x", timeout_s=1))  # type: ignore[misc]


async def test_unenrolled_agent_refuses_calls_other_than_enrollment(
    agent: AgentServer, bootstrap_ctx: ssl.SSLContext
) -> None:
    async with AgentClient(LOOPBACK, agent.port, bootstrap_ctx) as client:
        with pytest.raises(Conflict, match="not enrolled"):
            await client.call(p.HOST_GET_CAPABILITIES, p.Empty())


async def test_wrong_secret_is_refused(agent: AgentServer, ca: pki.CertificateAuthority) -> None:
    with pytest.raises(NotAuthenticated):
        await enroll_agent(LOOPBACK, agent.port, "guess", ca)
    assert not agent.enrolled


async def test_agent_without_a_secret_refuses_enrollment(
    tmp_path: Path, driver: FakeDriver, ca: pki.CertificateAuthority
) -> None:
    server = AgentServer(_config(tmp_path, enrollment_secret=None), driver, FakeStorage())
    await server.start()
    try:
        with pytest.raises(NotAuthenticated):
            await enroll_agent(LOOPBACK, server.port, "", ca)
    finally:
        await server.stop()


async def test_completion_without_a_request_is_refused(
    agent: AgentServer, ca: pki.CertificateAuthority, bootstrap_ctx: ssl.SSLContext
) -> None:
    cert_pem, _ = ca.issue("h", sans=[LOOPBACK], server=True, client=False)
    completion = p.EnrollmentCompletion(
        secret=SECRET, ca_pem=ca.cert_pem.decode(), cert_pem=cert_pem.decode()
    )
    async with AgentClient(LOOPBACK, agent.port, bootstrap_ctx) as client:
        with pytest.raises(Conflict):
            await client.call(p.HOST_COMPLETE_ENROLLMENT, completion)
    assert not agent.enrolled


async def test_client_without_a_certificate_is_refused_after_enrollment(
    enrolled: AgentServer, ca: pki.CertificateAuthority
) -> None:
    no_cert = pki.client_ssl_context(ca_file=ca.cert_file, cert_file=None, key_file=None)
    async with AgentClient(LOOPBACK, enrolled.port, no_cert) as client:
        with pytest.raises(NotAuthenticated):
            await client.call(p.HOST_GET_CAPABILITIES, p.Empty())


async def test_client_with_a_certificate_from_another_ca_is_refused(
    enrolled: AgentServer, tmp_path: Path
) -> None:
    rogue_ctx = engine_client_context(tmp_path / "rogue-ca")
    rogue_ctx.check_hostname = False
    rogue_ctx.verify_mode = ssl.CERT_NONE
    with pytest.raises(HostUnreachable):
        async with AgentClient(LOOPBACK, enrolled.port, rogue_ctx) as client:
            await client.call(p.HOST_GET_CAPABILITIES, p.Empty())


async def test_engine_refuses_an_agent_it_did_not_enroll(
    agent: AgentServer, engine_ctx: ssl.SSLContext
) -> None:
    with pytest.raises(HostUnreachable):
        await AgentClient(LOOPBACK, agent.port, engine_ctx).connect()


async def test_reenrollment_with_a_new_ca_replaces_the_old_trust(
    enrolled: AgentServer, engine_ctx: ssl.SSLContext, tmp_path: Path
) -> None:
    new_ca = pki.CertificateAuthority.load_or_create(tmp_path / "new-ca")
    await enroll_agent(LOOPBACK, enrolled.port, SECRET, new_ca)
    async with AgentClient(LOOPBACK, enrolled.port, engine_client_context(new_ca.directory)) as c:
        await c.call(p.HOST_PING, p.Empty())
    with pytest.raises(HostUnreachable):
        await AgentClient(LOOPBACK, enrolled.port, engine_ctx).connect()


async def test_restarted_agent_keeps_its_identity_and_enrollment(
    tmp_path: Path, driver: FakeDriver, enrolled: AgentServer, engine_ctx: ssl.SSLContext
) -> None:
    host_uuid = enrolled.identity.host_uuid
    await enrolled.stop()
    restarted = AgentServer(_config(tmp_path), driver, FakeStorage())
    await restarted.start()
    try:
        assert restarted.enrolled
        assert restarted.identity.host_uuid == host_uuid
        async with AgentClient(LOOPBACK, restarted.port, engine_ctx) as client:
            await client.call(p.HOST_PING, p.Empty())
    finally:
        await restarted.stop()


async def test_stopped_agent_is_unreachable(
    enrolled: AgentServer, engine: AgentClient, engine_ctx: ssl.SSLContext
) -> None:
    await enrolled.stop()
    with pytest.raises(HostUnreachable):
        await engine.call(p.HOST_PING, p.Empty())
    with pytest.raises(HostUnreachable):
        await AgentClient(LOOPBACK, enrolled.port, engine_ctx).connect()


async def test_a_call_slower_than_its_timeout_raises_host_unreachable(
    engine: AgentClient, driver: FakeDriver
) -> None:
    await engine.call(p.VM_CREATE, p.VmSpec(id="slow", name="slow", memory_bytes=1 << 30))
    driver.shutdown_delay_s = 0.5
    with pytest.raises(HostUnreachable, match="did not answer"):
        await engine.call(p.VM_SHUTDOWN, p.VmShutdown(vm_id="slow"), timeout=0.05)


async def test_several_agents_run_in_one_event_loop(
    tmp_path: Path, ca: pki.CertificateAuthority, engine_ctx: ssl.SSLContext
) -> None:
    servers = [
        AgentServer(_config(tmp_path, data_dir=tmp_path / f"host{i}"), FakeDriver(), FakeStorage())
        for i in range(3)
    ]
    for server in servers:
        await server.start()
    try:
        offers = [await enroll_agent(LOOPBACK, s.port, SECRET, ca) for s in servers]
        assert len({offer.host_uuid for offer in offers}) == 3
        for server in servers:
            async with AgentClient(LOOPBACK, server.port, engine_ctx) as client:
                await client.call(p.HOST_PING, p.Empty())
    finally:
        for server in servers:
            await server.stop()


async def test_agent_enforces_the_methods_time_limit(
    engine: AgentClient, driver: FakeDriver, monkeypatch: pytest.MonkeyPatch
) -> None:
    await engine.call(p.VM_CREATE, p.VmSpec(id="slow", name="slow", memory_bytes=1 << 30))
    driver.shutdown_delay_s = 0.5
    quick = p.Method(p.VM_SHUTDOWN.name, p.VmShutdown, p.VmState, 0.05)
    monkeypatch.setitem(p.METHODS, quick.name, quick)
    with pytest.raises(AgentError, match="did not finish within"):
        await engine.call(p.VM_SHUTDOWN, p.VmShutdown(vm_id="slow"))


async def test_agent_starts_from_a_toml_config(
    tmp_path: Path, driver: FakeDriver, ca: pki.CertificateAuthority
) -> None:
    config_file = tmp_path / "agent.toml"
    config_file.write_text(
        f'listen_host = "{LOOPBACK}"\nport = 0\ndata_dir = "state"\n'
        f'driver_uri = "test:///default"\nenrollment_secret = "{SECRET}"\n'
    )
    config = AgentConfig.load(config_file)
    assert config.data_dir == tmp_path / "state"
    server = AgentServer(config, driver, FakeStorage())
    await server.start()
    try:
        offer = await enroll_agent(LOOPBACK, server.port, SECRET, ca)
        assert (tmp_path / "state" / "host_uuid").read_text().strip() == offer.host_uuid
    finally:
        await server.stop()


def test_config_with_an_unknown_key_is_refused(tmp_path: Path) -> None:
    config_file = tmp_path / "agent.toml"
    config_file.write_text('data_dir = "/tmp/x"\nlisten_port = 1\n')
    with pytest.raises(InvalidInput, match="listen_port"):
        AgentConfig.load(config_file)
