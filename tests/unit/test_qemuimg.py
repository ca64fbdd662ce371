"""The qemu-img wrapper on real image files."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from virtfleet.agent.storage import qemuimg
from virtfleet.common.errors import AgentError, InvalidInput

pytestmark = pytest.mark.skipif(shutil.which("qemu-img") is None, reason="qemu-img missing")

MIB = 1024 * 1024


def test_created_qcow2_reports_its_format_and_size(tmp_path: Path) -> None:
    path = tmp_path / "base.qcow2"
    qemuimg.create(str(path), "qcow2", 64 * MIB)
    info = qemuimg.info(str(path))
    assert (info.format, info.virtual_size, info.backing_filename) == ("qcow2", 64 * MIB, None)
    assert info.cluster_size == 65536
    assert 0 < info.actual_size < 64 * MIB


def test_preallocated_raw_image_takes_its_whole_size(tmp_path: Path) -> None:
    path = tmp_path / "disk.raw"
    qemuimg.create(str(path), "raw", 8 * MIB, preallocation="falloc")
    info = qemuimg.info(str(path), "raw")
    assert (info.format, info.virtual_size) == ("raw", 8 * MIB)
    assert info.actual_size >= 8 * MIB


def test_overlay_names_its_backing_file_and_format(tmp_path: Path) -> None:
    (tmp_path / "base").mkdir()
    (tmp_path / "top").mkdir()
    qemuimg.create(str(tmp_path / "base" / "v1"), "raw", 16 * MIB)
    qemuimg.create(str(tmp_path / "top" / "v2"), "qcow2", None, "../base/v1", "raw")
    info = qemuimg.info(str(tmp_path / "top" / "v2"))
    assert info.backing_filename == "../base/v1"
    assert info.backing_format == "raw"
    assert info.virtual_size == 16 * MIB
    assert Path(info.full_backing_filename or "").resolve() == tmp_path / "base" / "v1"


def test_info_of_a_missing_file_raises_with_qemu_img_message(tmp_path: Path) -> None:
    with pytest.raises(AgentError, match="No such file or directory"):
        qemuimg.info(str(tmp_path / "missing.qcow2"))


def test_info_with_the_wrong_format_fails(tmp_path: Path) -> None:
    path = tmp_path / "disk.raw"
    qemuimg.create(str(path), "raw", MIB)
    with pytest.raises(AgentError):
        qemuimg.info(str(path), "qcow2")


def test_create_in_a_missing_directory_raises(tmp_path: Path) -> None:
    with pytest.raises(AgentError, match="qemu-img create failed"):
        qemuimg.create(str(tmp_path / "no" / "dir.qcow2"), "qcow2", MIB)


def test_unsupported_format_is_refused_before_running(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        qemuimg.create(str(tmp_path / "x.vmdk"), "vmdk", MIB)
    assert not (tmp_path / "x.vmdk").exists()


def test_backing_file_without_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        qemuimg.create(str(tmp_path / "top"), "qcow2", None, backing="base")


def test_check_of_a_fresh_qcow2_is_clean(tmp_path: Path) -> None:
    path = tmp_path / "a.qcow2"
    qemuimg.create(str(path), "qcow2", MIB)
    assert qemuimg.check(str(path)).clean


def test_convert_flattens_a_chain_into_a_standalone_image(tmp_path: Path) -> None:
    qemuimg.create(str(tmp_path / "base"), "qcow2", 4 * MIB)
    qemuimg.create(str(tmp_path / "top"), "qcow2", None, "base", "qcow2")
    qemuimg.convert(
        str(tmp_path / "top"), str(tmp_path / "flat"), src_format="qcow2", dst_format="raw"
    )
    info = qemuimg.info(str(tmp_path / "flat"), "raw")
    assert (info.virtual_size, info.backing_filename) == (4 * MIB, None)


def test_rebase_points_an_overlay_at_another_backing_file(tmp_path: Path) -> None:
    qemuimg.create(str(tmp_path / "old"), "qcow2", MIB)
    qemuimg.create(str(tmp_path / "new"), "qcow2", MIB)
    qemuimg.create(str(tmp_path / "top"), "qcow2", None, "old", "qcow2")
    qemuimg.rebase(str(tmp_path / "top"), "new", "qcow2", unsafe=True)
    assert qemuimg.info(str(tmp_path / "top")).backing_filename == "new"


def _allocated_bytes(path: Path) -> int:
    output = subprocess.run(
        ["qemu-img", "map", "--output=json", "-f", "qcow2", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return sum(extent["length"] for extent in json.loads(output) if extent["data"])


@pytest.mark.skipif(shutil.which("qemu-io") is None, reason="qemu-io missing")
def test_commit_moves_overlay_data_into_the_backing_file(tmp_path: Path) -> None:
    base, top = tmp_path / "base", tmp_path / "top"
    qemuimg.create(str(base), "qcow2", MIB)
    qemuimg.create(str(top), "qcow2", None, "base", "qcow2")
    subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write 0 64k", str(top)], check=True)
    assert _allocated_bytes(base) == 0
    qemuimg.commit(str(top))
    assert _allocated_bytes(base) == 64 * 1024
