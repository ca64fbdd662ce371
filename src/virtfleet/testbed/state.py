"""The testbed's state file, so that `down` and `status` work from any process."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from virtfleet.common.errors import NotFound
from virtfleet.testbed.plan import STATE_FILE_NAME, HostPlan, TestbedPlan


@dataclass
class DaemonPids:
    """PIDs of one host's daemons, as read from their pidfiles after start."""

    libvirtd: int | None = None
    virtlogd: int | None = None


@dataclass
class TestbedState:
    """The plan plus what has been started so far; written after every step of bring-up."""

    __test__ = False

    plan: TestbedPlan
    pids: dict[str, DaemonPids] = field(default_factory=dict)
    complete: bool = False

    def save(self) -> None:
        path = self.plan.state_file
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(_to_json(self), indent=2) + "\n")
        os.replace(tmp, path)

    @classmethod
    def load(cls, base_dir: Path) -> TestbedState:
        path = base_dir.absolute() / STATE_FILE_NAME
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError as exc:
            raise NotFound(f"no testbed state in {base_dir}") from exc
        return _from_json(raw)


def _to_json(state: TestbedState) -> dict[str, Any]:
    plan = state.plan
    return {
        "base_dir": str(plan.base_dir),
        "prefix": plan.prefix,
        "subnet": plan.subnet,
        "bridge": plan.bridge,
        "bridge_address": plan.bridge_address,
        "shared_dir": str(plan.shared_dir),
        "complete": state.complete,
        "hosts": [
            {
                "index": h.index,
                "name": h.name,
                "netns": h.netns,
                "veth_root": h.veth_root,
                "veth_inside": h.veth_inside,
                "address": h.address,
                "prefix_len": h.prefix_len,
                "dir": str(h.dir),
                "host_uuid": h.host_uuid,
                "libvirtd_pid": state.pids.get(h.name, DaemonPids()).libvirtd,
                "virtlogd_pid": state.pids.get(h.name, DaemonPids()).virtlogd,
            }
            for h in plan.hosts
        ],
    }


def _from_json(raw: dict[str, Any]) -> TestbedState:
    hosts = tuple(
        HostPlan(
            index=int(h["index"]),
            name=str(h["name"]),
            netns=str(h["netns"]),
            veth_root=str(h["veth_root"]),
            veth_inside=str(h["veth_inside"]),
            address=str(h["address"]),
            prefix_len=int(h["prefix_len"]),
            dir=Path(h["dir"]),
            host_uuid=str(h["host_uuid"]),
        )
        for h in raw["hosts"]
    )
    plan = TestbedPlan(
        base_dir=Path(raw["base_dir"]),
        prefix=str(raw["prefix"]),
        subnet=str(raw["subnet"]),
        bridge=str(raw["bridge"]),
        bridge_address=str(raw["bridge_address"]),
        shared_dir=Path(raw["shared_dir"]),
        hosts=hosts,
    )
    pids = {
        str(h["name"]): DaemonPids(libvirtd=h.get("libvirtd_pid"), virtlogd=h.get("virtlogd_pid"))
        for h in raw["hosts"]
    }
    return TestbedState(plan=plan, pids=pids, complete=bool(raw.get("complete", False)))
