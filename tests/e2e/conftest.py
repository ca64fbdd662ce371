"""One tiny guest image for the whole end-to-end run."""

from __future__ import annotations

import pytest

from virtfleet.testbed import GuestImage, build_guest_image


@pytest.fixture(name="image", scope="session")
def image_fixture(tmp_path_factory: pytest.TempPathFactory) -> GuestImage:
    """Built once (each test copies what it writes to, so sharing it is safe)."""
    return build_guest_image(tmp_path_factory.mktemp("guest-image"))
