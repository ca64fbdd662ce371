"""The next-run configuration of VMs: the changes a running VM takes when it next goes down."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from virtfleet.common import apimodel as m
from virtfleet.engine.persistence.tables import vm_next_runs as _T


def pending(conn: Connection, vm_id: str) -> dict[str, Any] | None:
    """The changed fields (JSON, as the API model dumps them), or None when there are none."""
    row = conn.execute(select(_T.c.doc).where(_T.c.vm_id == vm_id)).first()
    return None if row is None else dict(row.doc)


def keep(conn: Connection, vm_id: str, changes: dict[str, Any]) -> None:
    """Replace the VM's next-run changes; an empty set drops them."""
    if not changes:
        drop(conn, vm_id)
        return
    if conn.execute(update(_T).where(_T.c.vm_id == vm_id).values(doc=changes)).rowcount == 0:
        conn.execute(insert(_T).values(vm_id=vm_id, doc=changes))


def drop(conn: Connection, vm_id: str) -> None:
    conn.execute(delete(_T).where(_T.c.vm_id == vm_id))


def with_pending(vm: m.Vm, changes: dict[str, Any] | None) -> m.Vm:
    """The VM as it will be on its next run."""
    if not changes:
        return vm
    merged = {**vm.model_dump(mode="json", exclude_none=True), **changes}
    return m.Vm.model_validate(merged).model_copy(update={"next_run_configuration_exists": True})
