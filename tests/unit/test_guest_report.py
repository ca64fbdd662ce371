"""Guest agent replies (as libvirt relays them) become a guest report; garbage becomes none."""

from __future__ import annotations

import threading
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from virtfleet.agent.hypervisor.libvirt.guestagent import GuestAgentPoller
from virtfleet.agent.hypervisor.libvirt.guestreport import agent_connected, guest_report
from virtfleet.common.protocol import GuestReport

INFO = {
    "hostname": "tiny.virtfleet.test",
    "os.id": "debian",
    "os.name": "Debian GNU/Linux",
    "os.pretty-name": "Debian GNU/Linux 12 (bookworm)",
    "os.version": "12 (bookworm)",
    "os.version-id": "12",
    "os.kernel-release": "6.1.0-28-amd64",
    "os.kernel-version": "#1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1",
    "os.machine": "x86_64",
    "timezone.name": "CET",
    "timezone.offset": 3600,
    "user.count": 1,
    "user.0.name": "root",
    "user.0.login-time": 1796354887123,
}
INTERFACES = {
    "lo": {"hwaddr": "00:00:00:00:00:00", "addrs": [{"type": 0, "addr": "127.0.0.1", "prefix": 8}]},
    "eth0": {
        "hwaddr": "56:6f:00:00:00:01",
        "addrs": [
            {"type": 0, "addr": "10.0.2.15", "prefix": 24},
            {"type": 1, "addr": "fe80::546f:ff:fe00:1", "prefix": 64},
            {"type": 1, "addr": "fec0::546f:ff:fe00:1", "prefix": 64},
        ],
    },
}
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["hwaddr", "addrs", "type", "addr", "prefix", "eth0", "lo"])
            | st.text(max_size=4),
            inner,
            max_size=5,
        )
    ),
    max_leaves=25,
)
INFO_KEYS = st.sampled_from([*INFO, "user.1.name", "user.0.domain"]) | st.text(max_size=10)


def test_a_full_reply_gives_os_names_timezone_users_and_addresses() -> None:
    report = guest_report(INFO, INTERFACES)

    assert report is not None
    assert report.hostname == "tiny.virtfleet.test"
    assert report.os is not None
    assert (report.os.id, report.os.version_id, report.os.machine) == ("debian", "12", "x86_64")
    assert report.os.kernel_release == "6.1.0-28-amd64"
    assert report.timezone is not None and report.timezone.offset_s == 3600
    assert [(u.name, u.login_time) for u in report.users] == [("root", 1796354887.123)]
    [eth0] = report.interfaces  # loopback is no reported device
    assert eth0.mac == "56:6f:00:00:00:01"
    # link-local addresses are left out, as oVirt lists what others can reach
    assert [(a.address, a.version) for a in eth0.addresses] == [
        ("10.0.2.15", 4),
        ("fec0::546f:ff:fe00:1", 6),
    ]


def test_an_empty_reply_is_no_report() -> None:
    assert guest_report({}, {}) is None
    assert guest_report(None, None) is None


def test_an_address_that_is_not_one_is_dropped() -> None:
    bad = {
        "eth0": {
            "hwaddr": "x",
            "addrs": [
                {"type": 0, "addr": "999.1.1.1", "prefix": 24},
                {"type": 1, "addr": "10.0.0.1", "prefix": 8},
                {"type": 0, "addr": "10.0.0.1", "prefix": 99},
            ],
        }
    }
    report = guest_report({}, bad)
    assert report is not None and report.interfaces[0].addresses == []


@given(st.dictionaries(INFO_KEYS, VALUES, max_size=12), VALUES)
def test_garbage_from_the_guest_never_crashes_the_parser(info: dict[str, Any], ifaces: Any) -> None:
    report = guest_report(info, ifaces)
    assert report is None or isinstance(report, GuestReport)


def test_only_a_connected_agent_port_counts() -> None:
    channel = (
        "<domain><devices><channel type='unix'><target type='virtio' "
        "name='org.qemu.guest_agent.0' state='{}'/></channel></devices></domain>"
    )
    assert agent_connected(channel.format("connected"))
    assert not agent_connected(channel.format("disconnected"))
    assert not agent_connected("<domain><devices/></domain>")
    assert not agent_connected("not xml <")


class Dom:
    def __init__(self, vm_id: str) -> None:
        self.vm_id = vm_id

    def UUIDString(self) -> str:
        return self.vm_id


def test_the_poller_answers_at_once_and_refreshes_in_the_background() -> None:
    release = threading.Event()
    asked: list[str] = []

    def slow_query(dom: Any) -> GuestReport:
        asked.append(dom.vm_id)
        release.wait(5)
        return GuestReport(hostname="g")

    poller = GuestAgentPoller(slow_query, clock=lambda: 0.0, refresh_s=10.0)
    try:
        assert poller.report(Dom("a")) is None  # a hung agent holds up nothing
        assert poller.report(Dom("a")) is None
        release.set()
        for _ in range(200):
            if poller.report(Dom("a")) is not None:
                break
            threading.Event().wait(0.01)
        assert poller.report(Dom("a")) == GuestReport(hostname="g")
        assert asked == ["a"]  # one refresh in flight per VM, none again while fresh
    finally:
        poller.close()


def test_a_query_that_raises_leaves_no_report() -> None:
    def broken(_dom: Any) -> GuestReport:
        raise ValueError("garbage")

    poller = GuestAgentPoller(broken, clock=lambda: 0.0)
    try:
        poller.report(Dom("a"))
        for _ in range(100):
            threading.Event().wait(0.01)
            if "a" in poller._reports:
                break
        assert poller.report(Dom("a")) is None
    finally:
        poller.close()
