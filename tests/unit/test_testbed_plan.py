"""The testbed's pure planning: names, addresses, config text, state file, initramfs packing."""

from __future__ import annotations

import itertools
import stat
import uuid
from pathlib import Path

import pytest

from virtfleet.common.errors import InvalidInput
from virtfleet.testbed import cpio
from virtfleet.testbed.initramfs import module_load_order
from virtfleet.testbed.plan import (
    daemon_script,
    libvirtd_conf_extra,
    plan_testbed,
    qemu_conf_extra,
)
from virtfleet.testbed.state import DaemonPids, TestbedState

_COUNTER = itertools.count(1)


def _counting_uuids() -> uuid.UUID:
    return uuid.UUID(int=next(_COUNTER))


def test_host_n_gets_the_nth_address_and_the_bridge_the_last_usable_one() -> None:
    plan = plan_testbed(Path("/tb"), 3)
    assert [h.address for h in plan.hosts] == ["10.77.0.1", "10.77.0.2", "10.77.0.3"]
    assert plan.bridge_address == "10.77.0.254"
    assert all(h.prefix_len == 24 for h in plan.hosts)


def test_names_carry_the_prefix_so_two_testbeds_do_not_clash() -> None:
    plan = plan_testbed(Path("/tb"), 2, prefix="vft", subnet="10.79.0.0/24")
    assert [h.netns for h in plan.hosts] == ["vfth1", "vfth2"]
    assert [h.veth_root for h in plan.hosts] == ["vfth1r", "vfth2r"]
    assert plan.bridge == "vftbr0"
    assert plan.hosts[1].libvirt_uri == "qemu+tcp://10.79.0.2/system"


def test_interface_names_fit_the_kernel_limit_at_the_longest_prefix() -> None:
    plan = plan_testbed(Path("/tb"), 250, prefix="abcdefghij", subnet="10.0.0.0/16")
    assert max(len(h.veth_root) for h in plan.hosts) <= 15


def test_each_host_has_its_own_directory_and_uuid_under_the_base() -> None:
    plan = plan_testbed(Path("/tb"), 2, new_uuid=_counting_uuids)
    assert [h.dir for h in plan.hosts] == [Path("/tb/h1"), Path("/tb/h2")]
    assert plan.hosts[0].host_uuid != plan.hosts[1].host_uuid
    assert plan.shared_dir == Path("/tb/shared")
    assert plan.state_file == Path("/tb/testbed.json")


@pytest.mark.parametrize(
    ("hosts", "prefix", "subnet"),
    [
        (0, "vf", "10.77.0.0/24"),
        (2, "VF", "10.77.0.0/24"),
        (2, "vf-x", "10.77.0.0/24"),
        (2, "vf", "10.77.0.1/24"),
        (2, "vf", "fd00::/64"),
        (3, "vf", "10.77.0.0/30"),
    ],
)
def test_plan_rejects_bad_input(hosts: int, prefix: str, subnet: str) -> None:
    with pytest.raises(InvalidInput):
        plan_testbed(Path("/tb"), hosts, prefix=prefix, subnet=subnet)


def test_libvirtd_listens_on_plain_tcp_on_the_host_address_with_its_own_uuid() -> None:
    host = plan_testbed(Path("/tb"), 2, new_uuid=_counting_uuids).hosts[1]
    text = libvirtd_conf_extra(host)
    assert f'host_uuid = "{host.host_uuid}"' in text
    assert "listen_tcp = 1" in text
    assert "listen_tls = 0" in text
    assert 'auth_tcp = "none"' in text
    assert 'listen_addr = "10.77.0.2"' in text


def test_qemu_runs_as_root_unconfined_and_migrates_over_the_host_address() -> None:
    host = plan_testbed(Path("/tb"), 1).hosts[0]
    text = qemu_conf_extra(host)
    for line in ('user = "root"', 'group = "root"', "dynamic_ownership = 0"):
        assert line in text
    assert 'security_driver = "none"' in text
    assert 'migration_host = "10.77.0.1"' in text


def test_daemon_script_stops_on_failure_and_binds_every_directory_before_starting() -> None:
    host = plan_testbed(Path("/tb dir"), 1).hosts[0]
    lines = daemon_script(host).splitlines()
    assert lines[0] == "set -e"
    binds = [i for i, line in enumerate(lines) if line.startswith("mount --bind")]
    starts = [i for i, line in enumerate(lines) if line.startswith(("virtlogd", "libvirtd"))]
    assert len(binds) == 5
    assert max(binds) < min(starts)
    assert "mount --bind '/tb dir/h1/run' /run/libvirt" in lines
    assert lines[-1] == "libvirtd -d --listen -p '/tb dir/h1/libvirtd.pid'"


def test_state_file_round_trips_plan_and_pids(tmp_path: Path) -> None:
    plan = plan_testbed(tmp_path, 2, prefix="vfq", subnet="10.99.0.0/24")
    state = TestbedState(plan=plan, pids={"h1": DaemonPids(libvirtd=10, virtlogd=11)})
    state.save()
    loaded = TestbedState.load(tmp_path)
    assert loaded.plan == plan
    assert loaded.pids["h1"] == DaemonPids(libvirtd=10, virtlogd=11)
    assert loaded.pids["h2"] == DaemonPids()
    assert loaded.complete is False


def test_module_load_order_keeps_first_occurrence_of_each_dependency() -> None:
    show_depends = (
        "insmod /m/virtio_ring.ko \ninsmod /m/virtio.ko \n"
        "insmod /m/virtio_ring.ko \ninsmod /m/virtio.ko \ninsmod /m/virtio_blk.ko \n"
        "builtin crc32c\n"
    )
    assert module_load_order(show_depends) == [
        Path("/m/virtio_ring.ko"),
        Path("/m/virtio.ko"),
        Path("/m/virtio_blk.ko"),
    ]


def _read_newc(data: bytes) -> list[tuple[str, int, bytes, tuple[int, int]]]:
    entries: list[tuple[str, int, bytes, tuple[int, int]]] = []
    pos = 0
    while True:
        assert data[pos : pos + 6] == b"070701"
        fields = [int(data[pos + 6 + 8 * i : pos + 14 + 8 * i], 16) for i in range(13)]
        mode, size, rmaj, rmin, namesize = fields[1], fields[6], fields[9], fields[10], fields[11]
        name_start = pos + 110
        name = data[name_start : name_start + namesize - 1].decode()
        body = name_start + namesize + (-(name_start + namesize) % 4)
        if name == "TRAILER!!!":
            return entries
        entries.append((name, mode, data[body : body + size], (rmaj, rmin)))
        pos = body + size + (-(body + size) % 4)


def test_cpio_archive_holds_files_links_and_device_nodes_in_newc_format() -> None:
    archive = cpio.pack(
        [
            cpio.directory("bin"),
            cpio.regular("init", b"#!/bin/sh\n", 0o755),
            cpio.symlink("bin/sh", "busybox"),
            cpio.char_device("dev/console", 5, 1),
        ]
    )
    entries = {name: (mode, body, rdev) for name, mode, body, rdev in _read_newc(archive)}
    assert stat.S_ISDIR(entries["bin"][0])
    assert entries["init"][1] == b"#!/bin/sh\n"
    assert stat.S_IMODE(entries["init"][0]) == 0o755
    assert stat.S_ISLNK(entries["bin/sh"][0])
    assert entries["bin/sh"][1] == b"busybox"
    assert stat.S_ISCHR(entries["dev/console"][0])
    assert entries["dev/console"][2] == (5, 1)


def test_cpio_archive_is_byte_for_byte_reproducible() -> None:
    entries = [cpio.regular("a", b"x"), cpio.directory("d")]
    assert cpio.pack(entries) == cpio.pack(list(entries))
