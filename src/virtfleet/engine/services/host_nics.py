"""``/hosts/{id}/nics`` and their statistics, from the network interfaces in the host's latest
stats report (kept in memory, or its saved snapshot after an engine restart)."""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Sequence

from virtfleet.common import apimodel as m
from virtfleet.common.apimodel.enums import (
    IpVersion,
    NicStatus,
    StatisticKind,
    StatisticUnit,
    ValueType,
)
from virtfleet.common.errors import NotFound
from virtfleet.common.protocol import HostNicReport, HostStats, NicAddress
from virtfleet.engine.monitoring.hostmonitor import HostMonitor
from virtfleet.engine.monitoring.hoststate import load_stats
from virtfleet.engine.persistence import repositories as repos
from virtfleet.engine.persistence.database import Database
from virtfleet.engine.services.base import ListQuery, ResourceService, Scope, one_listed

_NIC_NAMESPACE = uuid.UUID("3c1f0b52-8d3e-4e0b-9a4f-5b6c7d8e9f01")
_MBPS = 1_000_000


def latest_host_stats(db: Database, monitor: HostMonitor, host_id: str) -> HostStats | None:
    """The host's latest report: the one in memory, else the saved one; NotFound if no host."""
    sample = monitor.latest_stats(host_id)
    with db.read() as conn:
        repos.hosts.get(conn, host_id)
        if sample is not None:
            return sample.stats
        saved = load_stats(conn, host_id)
    return saved[0] if saved is not None else None


def host_nic_id(host_id: str, name: str) -> str:
    """A NIC's id, stable across reports: its host and name."""
    return str(uuid.uuid5(_NIC_NAMESPACE, f"{host_id}/{name}"))


def _ip(address: NicAddress) -> m.Ip:
    if address.version == 4:
        netmask = str(ipaddress.IPv4Network(f"0.0.0.0/{address.prefix}").netmask)
        return m.Ip(address=address.address, netmask=netmask, version=IpVersion.V4)
    # oVirt gives an IPv6 address's prefix length as its netmask
    return m.Ip(address=address.address, netmask=str(address.prefix), version=IpVersion.V6)


def _first(nic: HostNicReport, version: int) -> m.Ip | None:
    return next((_ip(a) for a in nic.addresses if a.version == version), None)


def host_nic(host_id: str, nic: HostNicReport) -> m.HostNic:
    """A reported interface in oVirt's shape (speed in bits per second, as oVirt gives it)."""
    return m.HostNic(
        id=host_nic_id(host_id, nic.name),
        name=nic.name,
        host=m.Host(id=host_id),
        mac=m.Mac(address=nic.mac) if nic.mac else None,
        ip=_first(nic, 4),
        ipv6=_first(nic, 6),
        mtu=nic.mtu,
        speed=nic.speed_mbps * _MBPS if nic.speed_mbps is not None else None,
        status=NicStatus.UP if nic.up else NicStatus.DOWN,
        bridged=nic.bridge is not None,
        base_interface=nic.base_interface,
        vlan=m.Vlan(id=nic.vlan_id) if nic.vlan_id is not None else None,
    )


def _statistic(
    host_id: str,
    nic_id: str,
    row: tuple[str, str, float | None, StatisticKind, ValueType, StatisticUnit],
) -> m.Statistic:
    name, description, datum, kind, value_type, unit = row
    return m.Statistic(
        id=str(uuid.uuid5(_NIC_NAMESPACE, f"{nic_id}/{name}")),
        name=name,
        description=description,
        kind=kind,
        type=value_type,
        unit=unit,
        values=[m.Value(datum=datum)],
        host_nic=m.HostNic(id=nic_id, host=m.Host(id=host_id)),
    )


def host_nic_statistics(host_id: str, nic: HostNicReport) -> list[m.Statistic]:
    """oVirt's NIC statistic names; rates are left out until two reports gave them."""
    gauge, counter = StatisticKind.GAUGE, StatisticKind.COUNTER
    d, i = ValueType.DECIMAL, ValueType.INTEGER
    bps, bits = StatisticUnit.BYTES_PER_SECOND, StatisticUnit.BITS_PER_SECOND
    byte, none = StatisticUnit.BYTES, StatisticUnit.NONE
    rx_bits = None if nic.rx_rate is None else nic.rx_rate * 8
    tx_bits = None if nic.tx_rate is None else nic.tx_rate * 8
    rows: list[tuple[str, str, float | None, StatisticKind, ValueType, StatisticUnit]] = [
        ("data.current.rx", "Receive data rate", nic.rx_rate, gauge, d, bps),
        ("data.current.tx", "Transmit data rate", nic.tx_rate, gauge, d, bps),
        ("data.current.rx.bps", "Receive data rate", rx_bits, gauge, d, bits),
        ("data.current.tx.bps", "Transmit data rate", tx_bits, gauge, d, bits),
        ("data.total.rx", "Total received data", nic.rx_bytes, counter, i, byte),
        ("data.total.tx", "Total transmitted data", nic.tx_bytes, counter, i, byte),
        ("errors.total.rx", "Total receive errors", nic.rx_errors, counter, i, none),
        ("errors.total.tx", "Total transmit errors", nic.tx_errors, counter, i, none),
        ("dropped.total.rx", "Total received packets dropped", nic.rx_dropped, counter, i, none),
        ("dropped.total.tx", "Total transmit packets dropped", nic.tx_dropped, counter, i, none),
    ]
    nic_id = host_nic_id(host_id, nic.name)
    return [_statistic(host_id, nic_id, row) for row in rows if row[2] is not None]


class HostNicService(ResourceService):
    """``/hosts/{id}/nics``: the interfaces of the host's latest report (none before one)."""

    def __init__(self, db: Database, monitor: HostMonitor) -> None:
        self.db = db
        self.monitor = monitor

    def reported(self, host_id: str) -> list[HostNicReport]:
        stats = latest_host_stats(self.db, self.monitor, host_id)
        return [] if stats is None else list(stats.nics)

    def list(self, scope: Scope, query: ListQuery) -> Sequence[m.HostNic]:
        return [host_nic(scope.parent, nic) for nic in self.reported(scope.parent)]

    def get(self, scope: Scope, object_id: str) -> m.HostNic:
        return one_listed(
            self.list(scope, ListQuery()),
            object_id,
            f"The host NIC with id '{object_id}' does not exist",
        )


class HostNicStatisticsService(ResourceService):
    """``/hosts/{id}/nics/{id}/statistics``."""

    def __init__(self, nics: HostNicService) -> None:
        self.nics = nics

    def list(self, scope: Scope, query: ListQuery) -> Sequence[m.Statistic]:
        host_id, nic_id = scope.parents[-2], scope.parent
        for nic in self.nics.reported(host_id):
            if host_nic_id(host_id, nic.name) == nic_id:
                return host_nic_statistics(host_id, nic)
        raise NotFound(f"The host NIC with id '{nic_id}' does not exist")

    def get(self, scope: Scope, object_id: str) -> m.Statistic:
        return one_listed(
            self.list(scope, ListQuery()),
            object_id,
            f"The statistic with id '{object_id}' does not exist",
        )
