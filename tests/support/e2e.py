"""What the end-to-end tests share: their requirement marks and a testbed that must leave
nothing behind."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from virtfleet.common.protocol import DiskSpec, VmSpec
from virtfleet.testbed import GuestImage, Testbed
from virtfleet.testbed.lab import Lab, missing_requirements, open_lab
from virtfleet.testbed.processes import is_alive


def requires(*tools: str) -> list[pytest.MarkDecorator]:
    """The marks of an e2e module whose tests need root, these tools and a guest kernel."""
    missing = missing_requirements(tools)
    return [pytest.mark.e2e, pytest.mark.skipif(missing is not None, reason=str(missing))]


def names(directory: str, prefix: str) -> list[str]:
    """The entries of ``directory`` starting with ``prefix`` (namespaces, links)."""
    found = Path(directory)
    return [p.name for p in found.iterdir() if p.name.startswith(prefix)] if found.is_dir() else []


@contextmanager
def clean_testbed(base: Path, hosts: int, *, prefix: str, subnet: str) -> Iterator[Testbed]:
    """A testbed whose teardown is checked: no namespace, link or directory of it is left."""
    with Testbed.up(base, hosts, prefix=prefix, subnet=subnet) as bed:
        yield bed
    assert names("/run/netns", prefix) == []
    assert names("/sys/class/net", prefix) == []
    assert not base.exists()


def lab_fixtures(
    hosts: int, *, prefix: str, subnet: str
) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """A module's ``bed`` and ``lab`` fixtures: a checked testbed of ``hosts`` hosts (``prefix``
    and ``subnet`` unique to the module), their agents and an engine; nothing outlives a test."""

    @pytest.fixture(name="bed")
    def bed_fixture(tmp_path: Path) -> Iterator[Testbed]:
        with clean_testbed(tmp_path / "bed", hosts, prefix=prefix, subnet=subnet) as bed:
            yield bed

    @pytest.fixture(name="lab")
    async def lab_fixture(bed: Testbed, image: GuestImage, tmp_path: Path) -> AsyncIterator[Lab]:
        async with open_lab(bed, image, tmp_path / "engine") as lab:
            yield lab
        assert not [p.pid for p in lab.agents.values() if is_alive(p.pid)]

    return bed_fixture, lab_fixture


def tiny_guest_spec(image: GuestImage, disk: Path, console: Path) -> VmSpec:
    """A 256 MiB VM with a new id booting the tiny guest on ``disk``, its console to ``console``."""
    vm_id = str(uuid.uuid4())
    return VmSpec(
        id=vm_id,
        name=f"vf-e2e-{vm_id[:8]}",
        memory_bytes=256 * 1024**2,
        disks=[DiskSpec(path=str(disk))],
        serial_log_path=str(console),
        kernel=str(image.kernel),
        initrd=str(image.initrd),
        cmdline=image.cmdline,
    )
