"""A VM's time zone as oVirt names it (IANA names, or Windows names for Windows guests) and the
offset from UTC its virtual RTC keeps."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from virtfleet.common.errors import InvalidInput

# The Windows time zone names oVirt offers most, each with the IANA zone that keeps its rules.
WINDOWS_ZONES = {
    "UTC": "Etc/UTC",
    "GMT Standard Time": "Europe/London",
    "Greenwich Standard Time": "Atlantic/Reykjavik",
    "W. Europe Standard Time": "Europe/Berlin",
    "Central Europe Standard Time": "Europe/Budapest",
    "Romance Standard Time": "Europe/Paris",
    "Central European Standard Time": "Europe/Warsaw",
    "GTB Standard Time": "Europe/Bucharest",
    "FLE Standard Time": "Europe/Kyiv",
    "Russian Standard Time": "Europe/Moscow",
    "Israel Standard Time": "Asia/Jerusalem",
    "South Africa Standard Time": "Africa/Johannesburg",
    "Arabian Standard Time": "Asia/Dubai",
    "India Standard Time": "Asia/Kolkata",
    "China Standard Time": "Asia/Shanghai",
    "Singapore Standard Time": "Asia/Singapore",
    "Tokyo Standard Time": "Asia/Tokyo",
    "Korea Standard Time": "Asia/Seoul",
    "AUS Eastern Standard Time": "Australia/Sydney",
    "New Zealand Standard Time": "Pacific/Auckland",
    "Hawaiian Standard Time": "Pacific/Honolulu",
    "Alaskan Standard Time": "America/Anchorage",
    "Pacific Standard Time": "America/Los_Angeles",
    "Mountain Standard Time": "America/Denver",
    "Central Standard Time": "America/Chicago",
    "Eastern Standard Time": "America/New_York",
    "Atlantic Standard Time": "America/Halifax",
    "E. South America Standard Time": "America/Sao_Paulo",
}
_OFFSET = re.compile(r"^([+-])(\d{2}):(\d{2})$")
_MAX_OFFSET_S = 14 * 3600


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(WINDOWS_ZONES.get(name, name))
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"Unknown time_zone.name '{name}': use an IANA name (Europe/Berlin, Etc/GMT) "
            "or a Windows one (GMT Standard Time)"
        ) from None


def _parse_offset(text: str) -> int:
    match = _OFFSET.match(text.strip())
    if match is None:
        raise InvalidInput(f"time_zone.utc_offset '{text}' is not like +02:00")
    sign, hours, minutes = match.groups()
    seconds = int(hours) * 3600 + int(minutes) * 60
    if int(minutes) >= 60 or seconds > _MAX_OFFSET_S:
        raise InvalidInput(f"time_zone.utc_offset '{text}' is out of range")
    return -seconds if sign == "-" else seconds


def check_time_zone(name: str | None, utc_offset: str | None) -> None:
    """Refuse a time zone the engine could not turn into an offset."""
    if name:
        _zone(name)
    elif utc_offset:
        _parse_offset(utc_offset)


def utc_offset_s(name: str | None, utc_offset: str | None, at: datetime) -> int | None:
    """Seconds the zone is ahead of UTC at ``at`` (summer time included); None without a zone.
    A name wins over a fixed offset, as oVirt reports the offset of the named zone."""
    if name:
        delta = at.astimezone(_zone(name)).utcoffset()
        return int(delta.total_seconds()) if delta is not None else 0
    if utc_offset:
        return _parse_offset(utc_offset)
    return None
