"""The KVM-or-TCG probe: when it boots a guest, what it answers, and how it caches the answer."""

from __future__ import annotations

from pathlib import Path

import pytest

from virtfleet.agent.hypervisor.libvirt.kvmprobe import KVM, TCG, KvmProbe, host_kernel


class FakeBoot:
    def __init__(self, result: bool) -> None:
        self.result = result
        self.calls: list[str] = []

    def __call__(self, accel: str, _kernel: Path) -> bool:
        self.calls.append(accel)
        return self.result


@pytest.fixture
def kvm_device(tmp_path: Path) -> Path:
    device = tmp_path / "kvm"
    device.write_bytes(b"")
    return device


def _probe(
    cache: Path | None, device: Path, boot: FakeBoot, versions: str = "6.1|qemu 7.2"
) -> KvmProbe:
    return KvmProbe(
        cache,
        kvm_device=device,
        kernel=Path("/boot/vmlinuz-test"),
        try_boot=boot,
        versions=lambda: versions,
    )


def test_guest_that_boots_under_kvm_means_kvm(tmp_path: Path, kvm_device: Path) -> None:
    boot = FakeBoot(True)
    assert _probe(tmp_path, kvm_device, boot).domain_type() == KVM
    assert boot.calls == ["kvm"]


def test_guest_that_hangs_under_kvm_means_tcg(tmp_path: Path, kvm_device: Path) -> None:
    assert _probe(tmp_path, kvm_device, FakeBoot(False)).domain_type() == TCG


def test_no_kvm_device_means_tcg_without_booting(tmp_path: Path) -> None:
    boot = FakeBoot(True)
    assert _probe(tmp_path, tmp_path / "absent", boot).domain_type() == TCG
    assert boot.calls == []


def test_answer_is_reused_while_versions_stay_the_same(tmp_path: Path, kvm_device: Path) -> None:
    _probe(tmp_path, kvm_device, FakeBoot(False)).domain_type()
    again = FakeBoot(True)
    assert _probe(tmp_path, kvm_device, again).domain_type() == TCG
    assert again.calls == []


def test_new_kernel_or_qemu_version_probes_again(tmp_path: Path, kvm_device: Path) -> None:
    _probe(tmp_path, kvm_device, FakeBoot(False), "6.1|qemu 7.2").domain_type()
    again = FakeBoot(True)
    assert _probe(tmp_path, kvm_device, again, "6.12|qemu 9.2").domain_type() == KVM
    assert again.calls == ["kvm"]


def test_corrupt_cache_file_is_ignored(tmp_path: Path, kvm_device: Path) -> None:
    (tmp_path / "kvm-probe.json").write_text("{not json", encoding="utf-8")
    assert _probe(tmp_path, kvm_device, FakeBoot(True)).domain_type() == KVM


def test_without_cache_dir_every_call_probes(kvm_device: Path) -> None:
    boot = FakeBoot(False)
    probe = _probe(None, kvm_device, boot)
    probe.domain_type()
    probe.domain_type()
    assert boot.calls == ["kvm", "kvm"]


def test_host_kernel_is_the_newest_image_when_the_running_one_is_absent(tmp_path: Path) -> None:
    for version in ("5.10.0-1-amd64", "6.10.0-9-amd64", "6.9.0-30-amd64"):
        (tmp_path / f"vmlinuz-{version}").write_bytes(b"")
    assert host_kernel(tmp_path) == tmp_path / "vmlinuz-6.10.0-9-amd64"
    assert host_kernel(tmp_path / "empty") is None
