"""The NoCloud seed image: an ISO 9660 volume labelled ``cidata`` whose files read back as
written, under the names cloud-init looks for."""

from __future__ import annotations

import concurrent.futures
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from virtfleet.agent.hypervisor.seediso import MAX_SEED_BYTES, SeedStore, write_seed_iso
from virtfleet.common.errors import AgentError
from virtfleet.common.protocol import CloudInitSeed

pytestmark = pytest.mark.skipif(
    shutil.which("genisoimage") is None or shutil.which("isoinfo") is None,
    reason="genisoimage (with isoinfo) is not installed",
)

SEED = CloudInitSeed(
    meta_data="instance-id: i-1\nlocal-hostname: vm1\n",
    user_data='#cloud-config\nhostname: "vm1"\n',
    network_config="version: 1\nconfig: []\n",
)
PVD_OFFSET = 16 * 2048  # the primary volume descriptor is sector 16


def _isoinfo(image: Path, *args: str) -> str:
    done = subprocess.run(
        ["isoinfo", "-i", str(image), *args], capture_output=True, text=True, check=True
    )
    return done.stdout


def test_the_seed_volume_is_labelled_cidata(tmp_path: Path) -> None:
    image = write_seed_iso(SEED, tmp_path / "seed.iso")
    descriptor = image.read_bytes()[PVD_OFFSET : PVD_OFFSET + 2048]
    assert descriptor[1:6] == b"CD001"
    assert descriptor[40:72].decode().rstrip() == "cidata"  # the volume identifier


def test_the_seed_files_read_back_under_their_rock_ridge_and_joliet_names(
    tmp_path: Path,
) -> None:
    image = write_seed_iso(SEED, tmp_path / "seed.iso")
    listing = _isoinfo(image, "-R", "-f")
    assert sorted(listing.split()) == ["/meta-data", "/network-config", "/user-data"]
    assert _isoinfo(image, "-J", "-x", "/user-data") == SEED.user_data
    assert _isoinfo(image, "-R", "-x", "/meta-data") == SEED.meta_data


def test_a_seed_without_network_config_has_no_such_file(tmp_path: Path) -> None:
    seed = SEED.model_copy(update={"network_config": None})
    image = write_seed_iso(seed, tmp_path / "seed.iso")
    assert "network-config" not in _isoinfo(image, "-R", "-f")


def test_an_oversized_seed_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    seed = SEED.model_copy(update={"user_data": "x" * (MAX_SEED_BYTES + 1)})
    with pytest.raises(AgentError, match="more than"):
        write_seed_iso(seed, tmp_path / "seed.iso")
    assert list(tmp_path.iterdir()) == []


def test_the_store_keeps_one_seed_per_vm_until_removed(tmp_path: Path) -> None:
    store = SeedStore(tmp_path / "seeds")
    path = store.write("vm-1", SEED)
    assert path == store.path("vm-1") and path.is_file()
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no scratch left
    store.remove("vm-1")
    store.remove("vm-1")  # twice is harmless
    assert not path.exists()


def test_removals_racing_each_other_never_fail(tmp_path: Path) -> None:
    """A stop's lifecycle event and the destroy that caused it remove the seed at once."""
    store = SeedStore(tmp_path / "seeds")
    for _ in range(20):
        store.write("vm-1", SEED)
        barrier = threading.Barrier(4)

        def remove(together: threading.Barrier) -> None:
            together.wait()
            store.remove("vm-1")

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            for future in [pool.submit(remove, barrier) for _ in range(4)]:
                future.result()  # raises what a removal raised
        assert not store.path("vm-1").exists()
