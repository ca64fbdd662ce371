"""Storage domain monitoring: every period the up hosts of each data center look at its attached
domains; a domain no host can reach goes inactive, one reached again comes back, and the free and
used space of each domain and the actual size of its disks follow what the hosts measure."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial

from sqlalchemy import Connection, select

from virtfleet.common import protocol as p
from virtfleet.common.apimodel.enums import (
    DiskStatus,
    HostStatus,
    LogSeverity,
    StorageDomainStatus,
)
from virtfleet.common.errors import Conflict, VirtfleetError
from virtfleet.engine.core.domainstate import set_domain_status, space_fields
from virtfleet.engine.core.eventlog import EventCode, EventLog
from virtfleet.engine.core.transaction import run_in_transaction
from virtfleet.engine.monitoring.batchwriter import BatchWriter
from virtfleet.engine.monitoring.connections import HostConnections
from virtfleet.engine.persistence import repositories as repos
from virtfleet.engine.persistence import tables
from virtfleet.engine.persistence.database import Database

log = logging.getLogger(__name__)

# Attached domains the monitor judges; locked or activating ones belong to a running command.
WATCHED = (StorageDomainStatus.ACTIVE, StorageDomainStatus.INACTIVE)


@dataclass(frozen=True)
class WatchedDomain:
    id: str
    name: str
    path: str
    data_center_id: str
    hosts: tuple[tuple[str, str], ...]
    """Ids and names of the data center's up hosts."""


@dataclass(frozen=True)
class Probe:
    """What the hosts saw of one domain: its usage from the first that reached it, or why none
    could."""

    domain: WatchedDomain
    usage: p.DomainUsage | None
    failures: dict[str, str] = field(default_factory=dict)


def watched_domains(conn: Connection) -> list[WatchedDomain]:
    """Every active or inactive attached domain, with the up hosts of its data center."""
    d, h, c = tables.storage_domains, tables.hosts, tables.clusters
    up_hosts: dict[str, list[tuple[str, str]]] = {}
    rows = conn.execute(
        select(h.c.id, h.c.name, c.c.data_center_id)
        .join(c, c.c.id == h.c.cluster_id)
        .where(h.c.status == HostStatus.UP.value)
        .order_by(h.c.name)
    )
    for host_id, name, data_center_id in rows:
        up_hosts.setdefault(str(data_center_id), []).append((str(host_id), str(name or host_id)))
    domains = conn.execute(
        select(d.c.id, d.c.name, d.c.path, d.c.data_center_id).where(
            d.c.data_center_id.is_not(None) & d.c.status.in_([s.value for s in WATCHED])
        )
    )
    return [
        WatchedDomain(
            id=str(row.id),
            name=str(row.name),
            path=str(row.path),
            data_center_id=str(row.data_center_id),
            hosts=tuple(up_hosts.get(str(row.data_center_id), ())),
        )
        for row in domains
    ]


class StorageMonitor:
    """One loop for all domains; each check asks every host of a domain's data center at once."""

    def __init__(
        self,
        database: Database,
        eventlog: EventLog,
        connections: HostConnections,
        writer: BatchWriter,
        *,
        interval_s: float,
    ) -> None:
        self._database = database
        self._eventlog = eventlog
        self._connections = connections
        self._writer = writer
        self._interval = interval_s
        self._timeout = min(max(interval_s, 1.0), p.STORAGE_GET_DOMAIN_USAGE.timeout_s)
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="storage-domain-monitor")

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self._interval)
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("storage domain check failed")

    async def check(self) -> list[Probe]:
        """One round over every watched domain; returns what the hosts saw."""
        domains = await run_in_transaction(self._database, watched_domains, read_only=True)
        probes = list(await asyncio.gather(*(self._probe(d) for d in domains)))
        for probe in probes:
            await self._writer.run(partial(self._apply, probe=probe))
        return probes

    async def _probe(self, domain: WatchedDomain) -> Probe:
        ref = p.DomainRef(domain_id=domain.id, path=domain.path)

        async def ask(host_id: str) -> p.DomainUsage:
            return await self._connections.call(
                host_id, p.STORAGE_GET_DOMAIN_USAGE, ref, timeout=self._timeout
            )

        answers = await asyncio.gather(
            *(ask(host_id) for host_id, _name in domain.hosts), return_exceptions=True
        )
        failures: dict[str, str] = {}
        usage: p.DomainUsage | None = None
        for (_host_id, name), answer in zip(domain.hosts, answers, strict=True):
            if isinstance(answer, p.DomainUsage):
                usage = usage or answer
            elif isinstance(answer, VirtfleetError):
                failures[name] = answer.detail
            elif isinstance(answer, BaseException):
                failures[name] = str(answer) or type(answer).__name__
        return Probe(domain, usage, failures)

    def _apply(self, conn: Connection, *, probe: Probe) -> None:
        domain = probe.domain
        if probe.usage is not None:
            self._reached(conn, domain, probe.usage)
        elif domain.hosts:
            self._lost(conn, probe)
        # with no host up in the data center nobody can tell: the domain is left as it is

    def _reached(self, conn: Connection, domain: WatchedDomain, usage: p.DomainUsage) -> None:
        space = space_fields(usage)
        back = set_domain_status(
            conn, domain.id, StorageDomainStatus.ACTIVE, only_from=(StorageDomainStatus.INACTIVE,)
        )
        if back is not None:
            self._eventlog.record(
                conn,
                code=EventCode.STORAGE_DOMAIN_RECOVERED,
                severity=LogSeverity.NORMAL,
                description=f"Storage Domain {domain.name} is reachable again and active.",
                storage_domain_id=domain.id,
                data_center_id=domain.data_center_id,
            )
        current = repos.storage_domains.find(conn, domain.id)
        if current is not None and any(getattr(current, k) != v for k, v in space.items()):
            version = repos.storage_domains.version_of(conn, domain.id)
            with contextlib.suppress(Conflict):
                repos.storage_domains.save(
                    conn, current.model_copy(update=space), expected_version=version
                )
        refresh_disk_sizes(conn, domain.id, usage.volumes)

    def _lost(self, conn: Connection, probe: Probe) -> None:
        domain = probe.domain
        gone = set_domain_status(
            conn, domain.id, StorageDomainStatus.INACTIVE, only_from=(StorageDomainStatus.ACTIVE,)
        )
        if gone is None:
            return
        reasons = "; ".join(f"{host}: {why}" for host, why in sorted(probe.failures.items()))
        log.warning("storage domain unreachable domain=%s reasons=%s", domain.name, reasons)
        self._eventlog.record(
            conn,
            code=EventCode.STORAGE_DOMAIN_UNREACHABLE,
            severity=LogSeverity.WARNING,
            description=(
                f"Storage Domain {domain.name} was deactivated by system because it's not "
                f"visible by any of the hosts ({reasons})."
            ),
            storage_domain_id=domain.id,
            data_center_id=domain.data_center_id,
        )


def refresh_disk_sizes(conn: Connection, domain_id: str, volumes: Sequence[p.VolumeUsage]) -> int:
    """Write the measured size of each disk of the domain whose size changed; returns how many.

    A disk that a command holds (locked) is left to that command.
    """
    measured = {(v.image_id, v.volume_id): v.actual_size for v in volumes}
    changed = 0
    disks = repos.disks.query(conn, tables.disks.c.storage_domain_id == domain_id)
    for disk in disks:
        size = measured.get((disk.id or "", disk.image_id or ""))
        if size is None or disk.status == DiskStatus.LOCKED or disk.actual_size == size:
            continue
        assert disk.id is not None
        version = repos.disks.version_of(conn, disk.id)
        update = {"actual_size": size, "total_size": size}
        try:
            repos.disks.save(conn, disk.model_copy(update=update), expected_version=version)
        except Conflict:
            continue
        changed += 1
    return changed
