"""Storage domain and volume operations on a real directory with real qemu-img images."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

import pytest

from virtfleet.agent.storage import StorageOps, qemuimg
from virtfleet.common.errors import AgentError, Conflict, InvalidInput, NotFound
from virtfleet.common.protocol import DomainCreate, DomainRef, VolumeCreate, VolumeRef

pytestmark = pytest.mark.skipif(shutil.which("qemu-img") is None, reason="qemu-img missing")

MIB = 1024 * 1024


def _id() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def ops() -> StorageOps:
    return StorageOps()


@pytest.fixture
def domain(ops: StorageOps, tmp_path: Path) -> DomainRef:
    ref = DomainRef(domain_id=_id(), path=str(tmp_path))
    ops.create_domain(DomainCreate(**ref.model_dump(), name="data1", storage_type="posixfs"))
    return ref


def _volume(domain: DomainRef, image_id: str | None = None, **fields: object) -> VolumeCreate:
    values: dict[str, object] = {
        "domain_id": domain.domain_id,
        "path": domain.path,
        "image_id": image_id or _id(),
        "volume_id": _id(),
        "size_bytes": 16 * MIB,
    }
    values.update(fields)
    return VolumeCreate.model_validate(values)


def _ref(request: VolumeCreate) -> VolumeRef:
    return VolumeRef(
        domain_id=request.domain_id,
        path=request.path,
        image_id=request.image_id,
        volume_id=request.volume_id,
    )


def _meta(request: VolumeCreate) -> dict[str, object]:
    path = Path(request.path, request.domain_id, "images", request.image_id)
    data: dict[str, object] = json.loads((path / f"{request.volume_id}.meta").read_text())
    return data


def test_create_domain_lays_out_metadata_and_images(ops: StorageOps, tmp_path: Path) -> None:
    domain_id = _id()
    info = ops.create_domain(
        DomainCreate(domain_id=domain_id, path=str(tmp_path), name="data1", storage_type="nfs")
    )
    metadata = json.loads((tmp_path / domain_id / "dom_md" / "metadata").read_text())
    assert (tmp_path / domain_id / "images").is_dir()
    assert {k: metadata[k] for k in ("id", "name", "type", "version")} == {
        "id": domain_id,
        "name": "data1",
        "type": "nfs",
        "version": 1,
    }
    assert metadata["created"]
    assert info.domain_id == domain_id
    assert 0 < info.free_bytes <= info.total_bytes


def test_creating_the_same_domain_again_changes_nothing(ops: StorageOps, domain: DomainRef) -> None:
    again = DomainCreate(**domain.model_dump(), name="data1", storage_type="posixfs")
    assert ops.create_domain(again).domain_id == domain.domain_id


def test_a_path_holding_another_domain_conflicts(ops: StorageOps, domain: DomainRef) -> None:
    other = DomainCreate(domain_id=_id(), path=domain.path, name="data2", storage_type="nfs")
    with pytest.raises(Conflict):
        ops.create_domain(other)


def test_same_domain_id_with_other_settings_conflicts(ops: StorageOps, domain: DomainRef) -> None:
    with pytest.raises(Conflict):
        ops.create_domain(DomainCreate(**domain.model_dump(), name="other", storage_type="nfs"))


def test_missing_storage_path_is_invalid(ops: StorageOps, tmp_path: Path) -> None:
    request = DomainCreate(
        domain_id=_id(), path=str(tmp_path / "absent"), name="d", storage_type="nfs"
    )
    with pytest.raises(InvalidInput):
        ops.create_domain(request)


def test_storage_path_that_is_a_file_is_invalid(ops: StorageOps, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    request = DomainCreate(
        domain_id=_id(), path=str(tmp_path / "file"), name="d", storage_type="nfs"
    )
    with pytest.raises(InvalidInput):
        ops.create_domain(request)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only directories")
def test_read_only_storage_path_is_invalid(ops: StorageOps, tmp_path: Path) -> None:
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(InvalidInput):
            ops.create_domain(
                DomainCreate(domain_id=_id(), path=str(tmp_path), name="d", storage_type="nfs")
            )
    finally:
        tmp_path.chmod(0o755)


@pytest.mark.parametrize(
    "bad_id", ["../../etc", "not-a-uuid", "", "6F1A1B0E-3C3E-4B8E-9A57-2F4C8A9D0E11"]
)
def test_domain_ids_must_be_canonical_uuids(ops: StorageOps, tmp_path: Path, bad_id: str) -> None:
    with pytest.raises(InvalidInput):
        ops.create_domain(
            DomainCreate(domain_id=bad_id, path=str(tmp_path), name="d", storage_type="nfs")
        )
    assert list(tmp_path.iterdir()) == []


def test_relative_storage_path_is_invalid(ops: StorageOps) -> None:
    with pytest.raises(InvalidInput):
        ops.domain_info(DomainRef(domain_id=_id(), path="relative/dir"))


def test_connect_finds_an_existing_domain(ops: StorageOps, domain: DomainRef) -> None:
    assert ops.connect_domain(domain).domain_id == domain.domain_id


def test_connect_to_a_missing_domain_raises_not_found(ops: StorageOps, tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        ops.connect_domain(DomainRef(domain_id=_id(), path=str(tmp_path)))


def test_connect_refuses_metadata_naming_another_domain(ops: StorageOps, domain: DomainRef) -> None:
    metadata = Path(domain.path, domain.domain_id, "dom_md", "metadata")
    data = json.loads(metadata.read_text())
    metadata.write_text(json.dumps({**data, "id": _id()}))
    with pytest.raises(Conflict):
        ops.connect_domain(domain)


def test_remove_domain_deletes_only_its_directory(
    ops: StorageOps, domain: DomainRef, tmp_path: Path
) -> None:
    (tmp_path / "unrelated.txt").write_text("keep me")
    ops.create_volume(_volume(domain))
    ops.remove_domain(domain)
    assert [p.name for p in tmp_path.iterdir()] == ["unrelated.txt"]


def test_created_qcow2_volume_is_on_disk_with_metadata(ops: StorageOps, domain: DomainRef) -> None:
    request = _volume(domain)
    info = ops.create_volume(request)
    assert Path(info.path) == Path(
        domain.path, domain.domain_id, "images", request.image_id, request.volume_id
    )
    assert (info.format, info.virtual_size) == ("qcow2", 16 * MIB)
    assert qemuimg.info(info.path).format == "qcow2"
    meta = _meta(request)
    assert {k: meta[k] for k in ("image", "volume", "format", "capacity", "legality")} == {
        "image": request.image_id,
        "volume": request.volume_id,
        "format": "qcow2",
        "capacity": 16 * MIB,
        "legality": "LEGAL",
    }
    assert meta["parent_volume"] is None
    assert isinstance(meta["ctime"], int)


def test_preallocated_raw_volume_occupies_its_size(ops: StorageOps, domain: DomainRef) -> None:
    info = ops.create_volume(_volume(domain, format="raw", sparse=False, size_bytes=4 * MIB))
    assert info.format == "raw"
    assert info.actual_size >= 4 * MIB


def test_overlay_on_a_template_volume_uses_a_relative_backing_path(
    ops: StorageOps, domain: DomainRef
) -> None:
    base = _volume(domain, format="raw")
    ops.create_volume(base)
    overlay = _volume(
        domain, backing_image_id=base.image_id, backing_volume_id=base.volume_id, size_bytes=0
    )
    info = ops.create_volume(overlay)
    image = qemuimg.info(info.path)
    assert image.backing_filename == f"../{base.image_id}/{base.volume_id}"
    assert image.backing_format == "raw"
    assert info.virtual_size == 16 * MIB
    assert _meta(overlay)["parent_volume"] == base.volume_id


def test_snapshot_overlay_in_the_same_image_names_its_parent_by_volume_id(
    ops: StorageOps, domain: DomainRef
) -> None:
    base = _volume(domain)
    ops.create_volume(base)
    top = _volume(
        domain, base.image_id, backing_image_id=base.image_id, backing_volume_id=base.volume_id
    )
    info = ops.create_volume(top)
    assert qemuimg.info(info.path).backing_filename == base.volume_id


def test_raw_volume_cannot_have_a_parent(ops: StorageOps, domain: DomainRef) -> None:
    base = _volume(domain)
    ops.create_volume(base)
    with pytest.raises(InvalidInput):
        ops.create_volume(
            _volume(
                domain,
                format="raw",
                backing_image_id=base.image_id,
                backing_volume_id=base.volume_id,
            )
        )


def test_overlay_on_a_missing_parent_raises_not_found(ops: StorageOps, domain: DomainRef) -> None:
    with pytest.raises(NotFound):
        ops.create_volume(_volume(domain, backing_image_id=_id(), backing_volume_id=_id()))


def test_creating_the_same_volume_again_changes_nothing(ops: StorageOps, domain: DomainRef) -> None:
    request = _volume(domain)
    first = ops.create_volume(request)
    assert ops.create_volume(request) == first


def test_same_volume_id_with_another_format_conflicts(ops: StorageOps, domain: DomainRef) -> None:
    request = _volume(domain)
    ops.create_volume(request)
    with pytest.raises(Conflict):
        ops.create_volume(request.model_copy(update={"format": "raw"}))


def test_volume_on_a_missing_domain_raises_not_found(ops: StorageOps, tmp_path: Path) -> None:
    missing = DomainRef(domain_id=_id(), path=str(tmp_path))
    with pytest.raises(NotFound):
        ops.create_volume(_volume(missing))


def test_volume_ids_must_be_uuids(ops: StorageOps, domain: DomainRef) -> None:
    with pytest.raises(InvalidInput):
        ops.create_volume(_volume(domain, image_id="../../../tmp"))
    with pytest.raises(InvalidInput):
        ops.create_volume(_volume(domain, volume_id="x"))


def test_removed_volume_leaves_no_files(ops: StorageOps, domain: DomainRef) -> None:
    request = _volume(domain)
    ops.create_volume(request)
    ops.remove_volume(_ref(request))
    assert list(Path(domain.path, domain.domain_id, "images").iterdir()) == []
    with pytest.raises(NotFound):
        ops.volume_info(_ref(request))


def test_a_volume_with_an_overlay_on_it_cannot_be_removed(
    ops: StorageOps, domain: DomainRef
) -> None:
    base = _volume(domain)
    ops.create_volume(base)
    ops.create_volume(
        _volume(domain, backing_image_id=base.image_id, backing_volume_id=base.volume_id)
    )
    with pytest.raises(Conflict):
        ops.remove_volume(_ref(base))
    assert ops.volume_info(_ref(base)).volume_id == base.volume_id


def test_removing_a_missing_volume_raises_not_found(ops: StorageOps, domain: DomainRef) -> None:
    with pytest.raises(NotFound):
        ops.remove_volume(
            VolumeRef(domain_id=domain.domain_id, path=domain.path, image_id=_id(), volume_id=_id())
        )


def test_failed_qemu_img_leaves_no_volume_behind(
    ops: StorageOps, domain: DomainRef, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(qemuimg, "QEMU_IMG", "/nonexistent/qemu-img")
    request = _volume(domain)
    with pytest.raises(AgentError, match="not installed"):
        ops.create_volume(request)
    assert list(Path(domain.path, domain.domain_id, "images").iterdir()) == []
