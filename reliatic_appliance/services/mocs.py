"""Management of change (SPEC §5 MOC, §6 lifecycle): rules, one transaction per write.

Fields change by a partial PUT; the status changes only through the state machine
(`services/lifecycle.py`), which keeps the history and emits `moc.status_changed`.
Creating or editing a MOC emits nothing: §7 has no event type for it.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import apsw

from reliatic_appliance.ids import new_id
from reliatic_appliance.services import lifecycle
from reliatic_appliance.services.paging import Page, PageRequest, read_page
from reliatic_appliance.services.references import require
from reliatic_appliance.storage import mocs as store
from reliatic_appliance.storage.history import MOC_HISTORY
from reliatic_appliance.storage.sqlite import Database
from reliatic_appliance.timefmt import now_ts

Row = dict[str, Any]
MocFilter = store.MocFilter
INITIAL_STATUS = "draft"  # SPEC §5: new MOCs are drafts


def _write_status(conn: apsw.Connection, moc_id: str, current: str, target: str, at: str) -> None:
    store.set_status(conn, moc_id, target, at)


LIFECYCLE = lifecycle.Lifecycle(
    machine="moc",
    noun="MOC",
    resource_type="moc",
    event_type="moc.status_changed",
    history=MOC_HISTORY,
    load=store.get_moc,
    write_status=_write_status,
)


def list_mocs(db: Database, flt: MocFilter, sort: str | None, page: PageRequest) -> Page:
    return read_page(
        db,
        partial(store.list_mocs, flt=flt, sort=sort),
        page,
        lambda conn, rows: lifecycle.with_histories(conn, LIFECYCLE, rows),
    )


def get_moc(db: Database, moc_id: str) -> Row:
    return db.read(lambda conn: lifecycle.get(conn, LIFECYCLE, moc_id))


async def create_moc(db: Database, values: dict[str, Any], *, actor: str | None) -> Row:
    """Insert a `draft` MOC; its history starts with `{"from": null, "to": "draft"}`."""

    def write(conn: apsw.Connection) -> Row:
        require(conn, "assets", values.get("asset_id"), "asset_id")
        at = now_ts()
        moc_id = new_id("moc")
        store.insert_moc(
            conn,
            {**values, "id": moc_id, "status": INITIAL_STATUS, "created_at": at, "updated_at": at},
        )
        lifecycle.record_creation(conn, LIFECYCLE, moc_id, INITIAL_STATUS, actor=actor, at=at)
        return lifecycle.get(conn, LIFECYCLE, moc_id)

    return await db.write(write)


async def update_moc(
    db: Database, moc_id: str, changes: dict[str, Any], *, actor: str | None
) -> Row:
    """Apply a partial update of the non-status fields; a no-op changes nothing."""

    def write(conn: apsw.Connection) -> Row:
        before = lifecycle.get(conn, LIFECYCLE, moc_id)
        changed = {k: v for k, v in changes.items() if before.get(k) != v}
        if not changed:
            return before
        lifecycle.require_editable(LIFECYCLE, before)
        if "asset_id" in changed:
            require(conn, "assets", changed["asset_id"], "asset_id")
        store.update_moc(conn, moc_id, changed, now_ts())
        return lifecycle.get(conn, LIFECYCLE, moc_id)

    return await db.write(write)


async def change_status(
    db: Database, moc_id: str, target: str, comment: str | None, *, actor: str | None
) -> Row:
    """One step of the §6 MOC lifecycle; 409 with the allowed next states otherwise."""
    return await db.write(
        lambda conn: lifecycle.transition(conn, LIFECYCLE, moc_id, target, comment, actor=actor)
    )
