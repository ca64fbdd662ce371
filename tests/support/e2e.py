"""What the end-to-end tests share: their requirement marks and a testbed that must leave
nothing behind."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from virtfleet.testbed import Testbed
from virtfleet.testbed.lab import missing_requirements


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
