"""Persisted commands on hosts: enrolling (add, re-install), activating and refreshing.

Every command locks the host. A failing enrollment leaves the host ``install_failed`` with the
reason in ``status_detail`` and in the failure event; the secret travels only in the
command's parameters, never in the host document.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy import Connection

from virtfleet.common import apimodel as m
from virtfleet.common.apimodel.enums import HostStatus, LogSeverity
from virtfleet.common.errors import Conflict, HostUnreachable, InvalidInput, VirtfleetError
from virtfleet.common.protocol import (
    HOST_GET_CAPABILITIES,
    PROTOCOL_VERSION,
    Empty,
    HostCapabilities,
)
from virtfleet.engine.agentclient import AgentClient, enroll_agent
from virtfleet.engine.commands.context import CommandContext
from virtfleet.engine.commands.definition import CommandDefinition, Step, StepAction
from virtfleet.engine.core.eventlog import EventCode
from virtfleet.engine.core.statuses import MONITORED_HOSTS
from virtfleet.engine.core.transitions import change_status
from virtfleet.engine.persistence import repositories as repos
from virtfleet.engine.persistence import tables

ADD_HOST = "add_host"
INSTALL_HOST = "install_host"
ACTIVATE_HOST = "activate_host"
REFRESH_HOST = "refresh_host"

HOST_LOCK_REASON = "Host is being installed or activated"

# How long a command waits for monitoring's first answer before giving the host to it.
_FIRST_ANSWER_MIN_S = 10.0


def _host_refs(params: Mapping[str, Any], _data: Mapping[str, Any]) -> Mapping[str, str]:
    return {"host_id": str(params["host_id"])}


# --- errors users see ----------------------------------------------------------------------------


def _refused(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _reachability(exc: HostUnreachable, address: str, port: int) -> HostUnreachable:
    if _refused(exc):
        return HostUnreachable(f"Connection refused to {address}:{port}")
    return HostUnreachable(f"Cannot reach the agent at {address}:{port}: {exc.detail}")


def _failing_install(run: StepAction) -> StepAction:
    """Run an install step; on failure mark the host ``install_failed`` with the reason."""

    async def guarded(ctx: CommandContext) -> None:
        host_id = str(ctx.params["host_id"])
        try:
            await run(ctx)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            detail = (exc.detail if isinstance(exc, VirtfleetError) else str(exc)) or repr(exc)
            await ctx.db(
                lambda conn: change_status(
                    conn,
                    host_id,
                    None,
                    HostStatus.INSTALL_FAILED,
                    status_detail=detail,
                )
            )
            await ctx.env.monitor.unwatch(host_id)
            raise

    return guarded


# --- capabilities → host fields ------------------------------------------------------------------


def _version(text: str) -> m.Version:
    numbers = [int(part) for part in re.findall(r"\d+", text)[:4]]
    parts = dict(zip(("major", "minor", "build", "revision"), numbers, strict=False))
    return m.Version(full_version=text, **parts)


def host_fields(caps: HostCapabilities) -> dict[str, Any]:
    """The host document's fields an agent's capabilities fill in."""
    return {
        "hardware_information": m.HardwareInformation(uuid=caps.host_uuid),
        "cpu": m.Cpu(
            name=caps.cpu_model,
            topology=m.CpuTopology(
                sockets=caps.cpu_sockets, cores=caps.cpu_cores, threads=caps.cpu_threads
            ),
        ),
        "memory": caps.memory_bytes,
        "max_scheduling_memory": caps.memory_bytes,
        "libvirt_version": _version(caps.libvirt_version),
        "version": _version(caps.agent_version),
        "os": m.OperatingSystem(type="Linux", description=f"{caps.hostname} ({caps.driver_uri})"),
        "status_detail": f"{caps.hypervisor.value} hypervisor, protocol {caps.protocol_version}",
    }


def apply_capabilities(
    conn: Connection,
    host_id: str,
    caps: HostCapabilities,
    allowed: Collection[HostStatus] | None,
    to: HostStatus | None,
) -> None:
    """Write the capabilities into the host (moving it to ``to`` if given); refuse a machine
    that another host already is (same hardware UUID)."""
    if caps.protocol_version != PROTOCOL_VERSION:
        raise InvalidInput(
            f"The agent speaks protocol version {caps.protocol_version}; "
            f"this engine speaks version {PROTOCOL_VERSION}"
        )
    twins = repos.hosts.query(
        conn, (tables.hosts.c.host_uuid == caps.host_uuid) & (tables.hosts.c.id != host_id)
    )
    if twins:
        raise Conflict(
            f"The machine with hardware UUID {caps.host_uuid} is already host {twins[0].name}"
        )
    if change_status(conn, host_id, allowed, to, **host_fields(caps)) is None:
        host = repos.hosts.get(conn, host_id)
        raise Conflict(f"Host {host.name} is {host.status}; its capabilities were not recorded")


def cpu_shortfall(conn: Connection, host_id: str, caps: HostCapabilities) -> str | None:
    """Why the host cannot run its cluster's CPU type, or None when it can (or none is set)."""
    host = repos.hosts.get(conn, host_id)
    cluster_id = host.cluster.id if host.cluster is not None else None
    cluster = repos.clusters.find(conn, cluster_id) if cluster_id else None
    if cluster is None or cluster.cpu is None or not cluster.cpu.type:
        return None
    wanted = cluster.cpu.type
    if wanted in caps.cluster_cpu_types:
        return None
    return (
        f"Host {host.name} moved to non_operational: its CPU ({caps.cpu_model}, "
        f"{caps.hypervisor.value}) cannot run the CPU type '{wanted}' of cluster {cluster.name}"
    )


def record_capabilities(
    ctx: CommandContext,
    conn: Connection,
    caps: HostCapabilities,
    allowed: Collection[HostStatus] | None,
    to: HostStatus | None,
) -> None:
    """Apply the capabilities; a host whose CPU is below its cluster's type goes non_operational
    with the reason in ``status_detail`` and a warning event, and is never used for VMs."""
    host_id = str(ctx.params["host_id"])
    apply_capabilities(conn, host_id, caps, allowed, to)
    reason = cpu_shortfall(conn, host_id, caps)
    if reason is None:
        return
    change_status(conn, host_id, None, HostStatus.NON_OPERATIONAL, status_detail=reason)
    ctx.eventlog.record(
        conn,
        code=EventCode.HOST_CPU_BELOW_CLUSTER,
        severity=LogSeverity.WARNING,
        description=reason,
        host_id=host_id,
    )


# --- steps ---------------------------------------------------------------------------------------


async def _host(ctx: CommandContext) -> m.Host:
    host_id = str(ctx.params["host_id"])
    return await ctx.db(lambda conn: repos.hosts.get(conn, host_id))


async def _enroll(ctx: CommandContext) -> None:
    host = await _host(ctx)
    address, port = host.address or "", host.port or 0
    ca = await asyncio.to_thread(ctx.env.connections.ca)
    try:
        await enroll_agent(address, port, str(ctx.params["secret"]), ca)
    except HostUnreachable as exc:
        raise _reachability(exc, address, port) from exc


async def _read_capabilities(ctx: CommandContext) -> None:
    host = await _host(ctx)
    address, port = host.address or "", host.port or 0
    ssl_context = await asyncio.to_thread(ctx.env.connections.ssl_context)
    try:
        async with AgentClient(address, port, ssl_context) as client:
            caps = await client.call(HOST_GET_CAPABILITIES, Empty())
    except HostUnreachable as exc:
        raise _reachability(exc, address, port) from exc
    allowed = (HostStatus.INSTALLING, HostStatus.INITIALIZING)
    await ctx.db(
        lambda conn: record_capabilities(ctx, conn, caps, allowed, HostStatus.INITIALIZING)
    )


async def _start_monitoring(ctx: CommandContext) -> None:
    """Hand the host to monitoring and wait for its first answer (it then turns ``up``)."""
    host_id = str(ctx.params["host_id"])
    if (await _host(ctx)).status == HostStatus.NON_OPERATIONAL:
        return  # its capabilities ruled it out; the reason is in its status detail
    monitor = ctx.env.monitor
    await monitor.refresh(host_id)
    config = ctx.env.config
    timeout = max(config.host_grace_s, _FIRST_ANSWER_MIN_S)
    if not await monitor.wait_up(host_id, timeout):
        host = await _host(ctx)
        raise HostUnreachable(f"Host {host.name} did not answer monitoring within {timeout:g} s")


async def _refresh_capabilities(ctx: CommandContext) -> None:
    host_id = str(ctx.params["host_id"])
    caps = await ctx.env.connections.call(host_id, HOST_GET_CAPABILITIES, Empty())
    await ctx.db(lambda conn: record_capabilities(ctx, conn, caps, MONITORED_HOSTS, None))


def _install_definition(kind: str, verb: str) -> CommandDefinition:
    return CommandDefinition(
        kind=kind,
        describe=lambda p: f"{verb} host {p['name']}",
        steps=[
            Step("enroll", "Enrolling the host's agent", _failing_install(_enroll)),
            Step(
                "capabilities",
                "Reading the host's capabilities",
                _failing_install(_read_capabilities),
            ),
            Step("monitor", "Waiting for the host to come up", _start_monitoring),
        ],
        refs=_host_refs,
        describe_done=lambda p, _d: f"Host {p['name']} was installed.",
        success_code=EventCode.HOST_INSTALLED,
        failure_code=EventCode.HOST_INSTALL_FAILED,
        secret_params=frozenset({"secret"}),
    )


def _activate_definition() -> CommandDefinition:
    return CommandDefinition(
        kind=ACTIVATE_HOST,
        describe=lambda p: f"Activating host {p['name']}",
        steps=[
            Step("monitor", "Connecting to the host", _start_monitoring),
            Step("capabilities", "Reading the host's capabilities", _refresh_capabilities),
        ],
        refs=_host_refs,
        describe_done=lambda p, _d: f"Host {p['name']} was activated.",
        success_code=EventCode.HOST_ACTIVATED,
    )


def _refresh_definition() -> CommandDefinition:
    return CommandDefinition(
        kind=REFRESH_HOST,
        describe=lambda p: f"Refreshing host {p['name']}",
        steps=[Step("capabilities", "Reading the host's capabilities", _refresh_capabilities)],
        refs=_host_refs,
    )


def host_command_definitions() -> tuple[CommandDefinition, ...]:
    return (
        _install_definition(ADD_HOST, "Adding"),
        _install_definition(INSTALL_HOST, "Installing"),
        _activate_definition(),
        _refresh_definition(),
    )


__all__ = [
    "ACTIVATE_HOST",
    "ADD_HOST",
    "HOST_LOCK_REASON",
    "INSTALL_HOST",
    "REFRESH_HOST",
    "apply_capabilities",
    "host_command_definitions",
    "host_fields",
]
