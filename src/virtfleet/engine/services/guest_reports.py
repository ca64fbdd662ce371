"""What a running VM's guest agent reported, served as oVirt does: the VM's ``fqdn``,
``guest_operating_system`` and ``guest_time_zone``, ``/vms/{id}/reporteddevices`` and
``/vms/{id}/sessions``. A VM that is not running, or whose guest has no agent, shows none."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from virtfleet.common import apimodel as m
from virtfleet.common.apimodel.base import ApiObject
from virtfleet.common.apimodel.enums import IpVersion, ReportedDeviceType
from virtfleet.common.protocol import GuestOs, GuestReport, GuestTimezone, VmStats
from virtfleet.engine.core.statuses import HOLDING_VM_STATUSES
from virtfleet.engine.persistence import repositories as repos
from virtfleet.engine.persistence.database import Database
from virtfleet.engine.services.base import ListQuery, ResourceService, Scope, one_listed

T = TypeVar("T", bound=ApiObject)
StatsLookup = Callable[[str], VmStats | None]
_GUEST_NAMESPACE = uuid.UUID("9e3b6c1a-4f2d-4c8e-8b7a-1d2e3f405162")


def _version(text: str | None) -> m.Version | None:
    """``12``, ``22.04`` or ``9.3`` as oVirt's version parts; the text stays as full_version."""
    if text is None:
        return None
    parts = text.split(".")
    numbers = [int(p) if p.isascii() and p.isdigit() else None for p in parts[:2]]
    return m.Version(
        major=numbers[0] if numbers else None,
        minor=numbers[1] if len(numbers) > 1 else None,
        full_version=text,
    )


def _codename(os: GuestOs) -> str | None:
    """The codename os-release puts in parentheses of VERSION (``12 (bookworm)``)."""
    version = os.version or ""
    if "(" in version and version.endswith(")"):
        return version[version.index("(") + 1 : -1].strip() or None
    return None


def guest_operating_system(os: GuestOs) -> m.GuestOperatingSystem:
    return m.GuestOperatingSystem(
        architecture=os.machine,
        codename=_codename(os),
        distribution=os.name,
        family="Linux" if os.kernel_release else None,
        kernel=m.Kernel(version=m.Version(full_version=os.kernel_release))
        if os.kernel_release
        else None,
        version=_version(os.version_id),
    )


def _utc_offset(zone: GuestTimezone) -> str:
    sign = "+" if zone.offset_s >= 0 else "-"
    minutes = abs(zone.offset_s) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def with_guest(vm: m.Vm, report: GuestReport | None) -> m.Vm:
    """The VM with the guest-reported fields of ``report`` (cleared when there is none)."""
    if report is None and not (vm.fqdn or vm.guest_operating_system or vm.guest_time_zone):
        return vm
    zone = report.timezone if report is not None else None
    os = report.os if report is not None else None
    return vm.model_copy(
        update={
            "fqdn": report.hostname if report is not None else None,
            "guest_operating_system": guest_operating_system(os) if os is not None else None,
            "guest_time_zone": m.TimeZone(name=zone.name, utc_offset=_utc_offset(zone))
            if zone is not None
            else None,
        }
    )


class GuestReports:
    """The latest guest report of a VM, only while the VM runs."""

    def __init__(self, database: Database, latest: StatsLookup) -> None:
        self.db = database
        self.latest = latest

    def of(self, vm: m.Vm) -> GuestReport | None:
        if vm.id is None or vm.status not in HOLDING_VM_STATUSES:
            return None
        stats = self.latest(vm.id)
        return stats.guest if stats is not None else None

    def of_id(self, vm_id: str) -> GuestReport | None:
        """The report of the VM ``vm_id``; NotFound when there is no such VM."""
        with self.db.read() as conn:
            vm = repos.vms.get(conn, vm_id)
        return self.of(vm)


def reported_devices(vm_id: str, report: GuestReport | None) -> list[m.ReportedDevice]:
    devices = []
    for nic in report.interfaces if report is not None else []:
        ips = [
            m.Ip(address=a.address, version=IpVersion.V4 if a.version == 4 else IpVersion.V6)
            for a in nic.addresses
        ]
        devices.append(
            m.ReportedDevice(
                id=str(uuid.uuid5(_GUEST_NAMESPACE, f"{vm_id}/nic/{nic.name}")),
                name=nic.name,
                description="guest reported data",
                type=ReportedDeviceType.NETWORK,
                mac=m.Mac(address=nic.mac) if nic.mac else None,
                ips=ips,
                vm=m.Vm(id=vm_id),
            )
        )
    return devices


def sessions(vm_id: str, report: GuestReport | None) -> list[m.Session]:
    """The guest's logged-in users; a domain user is named ``user@domain``."""
    users = report.users if report is not None else []
    return [
        m.Session(
            id=str(uuid.uuid5(_GUEST_NAMESPACE, f"{vm_id}/user/{user.domain}/{user.name}")),
            user=m.User(user_name=f"{user.name}@{user.domain}" if user.domain else user.name),
            vm=m.Vm(id=vm_id),
        )
        for user in users
    ]


class GuestListService(ResourceService, Generic[T]):
    """A collection built from the running VM's guest report (``/vms/{id}/reporteddevices``,
    ``/vms/{id}/sessions``)."""

    def __init__(
        self,
        reports: GuestReports,
        build: Callable[[str, GuestReport | None], list[T]],
        kind: str,
    ) -> None:
        self.reports = reports
        self.build: Callable[[str, GuestReport | None], list[T]] = build
        self.kind = kind

    def list(self, scope: Scope, query: ListQuery) -> Sequence[T]:
        return self.build(scope.parent, self.reports.of_id(scope.parent))

    def get(self, scope: Scope, object_id: str) -> T:
        return one_listed(
            self.list(scope, ListQuery()),
            object_id,
            f"The {self.kind} with id '{object_id}' does not exist",
        )


def guest_services(reports: GuestReports) -> dict[str, ResourceService]:
    return {
        "vm_reported_devices": GuestListService(reports, reported_devices, "reported device"),
        "vm_sessions": GuestListService(reports, sessions, "session"),
    }
