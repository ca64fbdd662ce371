"""What one start changes for that run only (oVirt's run once), kept in the start command's
parameters and laid over the VM's own spec when it launches."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from virtfleet.common import protocol as p


class RunOnce(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    boot_devices: list[str] | None = None
    pause: bool = False
    volatile: bool = False
    cloud_init: p.CloudInitSeed | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> RunOnce | None:
        raw = params.get("run_once")
        return None if raw is None else cls.model_validate(raw)


def apply_run_once(spec: p.VmSpec, run: RunOnce | None) -> p.VmSpec:
    if run is None:
        return spec
    update: dict[str, Any] = {
        "start_paused": run.pause or spec.start_paused,
        "volatile": run.volatile,
        "cloud_init": run.cloud_init,
    }
    if run.boot_devices is not None:
        update["boot_devices"] = run.boot_devices
    return spec.model_copy(update=update)
