"""Which VMs have run once (oVirt's ``is_initialized``): a VM's stored ``initialization`` is
applied on its first run and never again unless a start asks for it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, insert, select

from virtfleet.engine.persistence.tables import initialized_vms as _T


def has_run(conn: Connection, vm_id: str) -> bool:
    return conn.execute(select(_T.c.vm_id).where(_T.c.vm_id == vm_id)).first() is not None


def mark_run(conn: Connection, vm_id: str, at: datetime) -> None:
    """Remember the VM's first run; later runs keep that first moment."""
    if not has_run(conn, vm_id):
        conn.execute(insert(_T).values(vm_id=vm_id, first_run=at))
