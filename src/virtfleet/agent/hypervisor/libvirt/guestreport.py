"""What libvirt relays from qemu-guest-agent, turned into a ``GuestReport``.

The guest is not trusted: every value is checked for its type and size, and anything else is
dropped, so a guest agent that answers garbage gives no report rather than a crash.
"""

from __future__ import annotations

import ipaddress
import xml.etree.ElementTree as ET
from collections.abc import Mapping

from virtfleet.common.protocol import (
    GuestInterface,
    GuestOs,
    GuestReport,
    GuestTimezone,
    GuestUser,
    NicAddress,
)

from .agentchannel import GUEST_AGENT_PORT

_MAX_TEXT = 256
_MAX_ITEMS = 64
_OS_KEYS = {
    "id": "os.id",
    "name": "os.name",
    "pretty_name": "os.pretty-name",
    "version": "os.version",
    "version_id": "os.version-id",
    "kernel_release": "os.kernel-release",
    "kernel_version": "os.kernel-version",
    "machine": "os.machine",
}
# libvirt's VIR_IP_ADDR_TYPE_IPV4 / _IPV6
_ADDRESS_VERSIONS = {0: 4, 1: 6}


def agent_connected(domain_xml: str) -> bool:
    """Whether the guest has opened its agent port (libvirt marks the channel ``connected``)."""
    try:
        root = ET.fromstring(domain_xml)
    except ET.ParseError:
        return False
    for target in root.iterfind("devices/channel/target"):
        if target.get("name") == GUEST_AGENT_PORT:
            return target.get("state") == "connected"
    return False


def _text(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value[:_MAX_TEXT] if value and value.isprintable() else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _os(info: Mapping[str, object]) -> GuestOs | None:
    fields = {name: _text(info.get(key)) for name, key in _OS_KEYS.items()}
    return GuestOs(**fields) if any(fields.values()) else None


def _timezone(info: Mapping[str, object]) -> GuestTimezone | None:
    offset = _int(info.get("timezone.offset"))
    if offset is None or abs(offset) > 24 * 3600:
        return None
    return GuestTimezone(name=_text(info.get("timezone.name")), offset_s=offset)


def _users(info: Mapping[str, object]) -> list[GuestUser]:
    count = _int(info.get("user.count")) or 0
    users: list[GuestUser] = []
    for index in range(min(max(count, 0), _MAX_ITEMS)):
        name = _text(info.get(f"user.{index}.name"))
        if name is None:
            continue
        login_ms = _int(info.get(f"user.{index}.login-time"))
        users.append(
            GuestUser(
                name=name,
                domain=_text(info.get(f"user.{index}.domain")),
                login_time=login_ms / 1000 if login_ms is not None and login_ms >= 0 else None,
            )
        )
    return users


def _address(raw: object) -> NicAddress | None:
    if not isinstance(raw, Mapping):
        return None
    version = _ADDRESS_VERSIONS.get(_int(raw.get("type")) or 0)
    text, prefix = _text(raw.get("addr")), _int(raw.get("prefix"))
    if version is None or text is None or prefix is None:
        return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if address.version != version or not 0 <= prefix <= address.max_prefixlen:
        return None
    if address.is_loopback or address.is_link_local:
        return None
    return NicAddress(address=str(address), prefix=prefix, version=version)


def _interfaces(raw: object) -> list[GuestInterface]:
    if not isinstance(raw, Mapping):
        return []
    found: list[GuestInterface] = []
    for name, entry in list(raw.items())[:_MAX_ITEMS]:
        label = _text(name)
        if label is None or not isinstance(entry, Mapping) or label == "lo":
            continue
        addrs = entry.get("addrs")
        parsed = [_address(a) for a in (addrs if isinstance(addrs, list) else [])[:_MAX_ITEMS]]
        found.append(
            GuestInterface(
                name=label,
                mac=_text(entry.get("hwaddr")),
                addresses=[a for a in parsed if a is not None],
            )
        )
    return found


def guest_report(info: object, interfaces: object) -> GuestReport | None:
    """The report from ``guestInfo``'s typed parameters and ``interfaceAddresses``' mapping;
    None when neither holds anything usable."""
    params: Mapping[str, object] = info if isinstance(info, Mapping) else {}
    report = GuestReport(
        hostname=_text(params.get("hostname")),
        os=_os(params),
        timezone=_timezone(params),
        users=_users(params),
        interfaces=_interfaces(interfaces),
    )
    return report if report != GuestReport() else None
