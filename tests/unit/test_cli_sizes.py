"""Memory sizes as users type them for `vm create --memory`."""

from __future__ import annotations

import pytest

from virtfleet.cli.commands.vm import parse_size
from virtfleet.common.errors import InvalidInput


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1GiB", 1024**3),
        ("512MiB", 512 * 1024**2),
        ("2G", 2 * 1024**3),
        ("1.5GiB", 3 * 512 * 1024**2),
        ("2GB", 2 * 1000**3),
        ("1024", 1024**3),
    ],
)
def test_sizes_use_binary_units_and_bare_numbers_mean_mib(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "lots", "1XB", "0GiB", "-1G"])
def test_unreadable_or_empty_sizes_are_invalid_input(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_size(text)
