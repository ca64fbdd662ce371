"""The guest operating systems the engine knows; names follow oVirt's os ids (``rhel_9x64``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GuestOs:
    id: str
    name: str
    description: str
    windows: bool = False


CATALOG: tuple[GuestOs, ...] = (
    GuestOs("0", "other", "Other OS"),
    GuestOs("5", "other_linux", "Linux"),
    GuestOs("1001", "other_linux_ppc64", "Linux (ppc64)"),
    GuestOs("24", "rhel_7x64", "Red Hat Enterprise Linux 7.x x64"),
    GuestOs("33", "rhel_8x64", "Red Hat Enterprise Linux 8.x x64"),
    GuestOs("34", "rhel_9x64", "Red Hat Enterprise Linux 9.x x64"),
    GuestOs("35", "centos_9x64", "CentOS Stream 9 x64"),
    GuestOs("36", "debian_11", "Debian 11"),
    GuestOs("37", "debian_12", "Debian 12"),
    GuestOs("38", "ubuntu_22_04", "Ubuntu 22.04 LTS"),
    GuestOs("39", "ubuntu_24_04", "Ubuntu 24.04 LTS"),
    GuestOs("27", "windows_10x64", "Windows 10 x64", windows=True),
    GuestOs("31", "windows_11", "Windows 11", windows=True),
    GuestOs("29", "windows_2016x64", "Windows 2016 x64", windows=True),
    GuestOs("30", "windows_2019x64", "Windows 2019 x64", windows=True),
    GuestOs("32", "windows_2022", "Windows 2022", windows=True),
)

BY_NAME = {os.name: os for os in CATALOG}


def is_known(name: str) -> bool:
    return name in BY_NAME


def is_windows(name: str) -> bool:
    known = BY_NAME.get(name)
    return known is not None and known.windows
