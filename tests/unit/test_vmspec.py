"""Chipset, firmware and display of the spec an agent gets, from the VM and its cluster."""

from __future__ import annotations

import pytest

from virtfleet.common import apimodel as m
from virtfleet.common.apimodel.enums import BiosType, DisplayType
from virtfleet.engine.commands.vmspec import effective_bios, graphics_specs, machine_type


def _vm(bios: BiosType | None = None, **fields: object) -> m.Vm:
    return m.Vm(bios=m.Bios(type=bios) if bios is not None else None, **fields)


@pytest.mark.parametrize(
    ("vm_bios", "cluster_bios", "expected"),
    [
        (None, None, BiosType.I440FX_SEA_BIOS),
        (BiosType.CLUSTER_DEFAULT, None, BiosType.I440FX_SEA_BIOS),
        (BiosType.CLUSTER_DEFAULT, BiosType.Q35_OVMF, BiosType.Q35_OVMF),
        (None, BiosType.Q35_SECURE_BOOT, BiosType.Q35_SECURE_BOOT),
        (BiosType.Q35_SEA_BIOS, BiosType.Q35_OVMF, BiosType.Q35_SEA_BIOS),
    ],
)
def test_the_vm_bios_wins_and_cluster_default_falls_back_to_the_cluster(
    vm_bios: BiosType | None, cluster_bios: BiosType | None, expected: BiosType
) -> None:
    cluster = m.Cluster(bios_type=cluster_bios)
    assert effective_bios(_vm(vm_bios), cluster) == expected


def test_q35_firmware_choices_give_the_q35_machine() -> None:
    for bios in (BiosType.Q35_SEA_BIOS, BiosType.Q35_OVMF, BiosType.Q35_SECURE_BOOT):
        assert machine_type(_vm(bios), bios) == "q35"
    assert machine_type(_vm(), BiosType.I440FX_SEA_BIOS) == "pc"


def test_a_custom_emulated_machine_is_kept() -> None:
    vm = _vm(BiosType.Q35_OVMF, custom_emulated_machine="pc-q35-7.2")
    assert machine_type(vm, BiosType.Q35_OVMF) == "pc-q35-7.2"


def test_the_display_is_vnc_unless_the_vm_asks_for_spice() -> None:
    assert [g.type for g in graphics_specs(_vm())] == ["vnc"]
    spice = _vm(display=m.Display(type=DisplayType.SPICE))
    assert [g.type for g in graphics_specs(spice)] == ["spice"]
