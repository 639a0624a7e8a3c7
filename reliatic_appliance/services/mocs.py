"""Management of change (SPEC §5 MOC, §6 lifecycle): rules, one transaction per write.

Fields change by a partial PUT; the status changes only through the state machine
(`services/lifecycle.py`), which keeps the history and emits `moc.status_changed`.
Creating or editing a MOC emits nothing: §7 has no event type for it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from reliatic_appliance.ids import new_id
from reliatic_appliance.ports import MocFilter, TenantDb, TenantTx
from reliatic_appliance.services import lifecycle
from reliatic_appliance.services.paging import Page, PageRequest, read_page
from reliatic_appliance.services.references import require
from reliatic_appliance.timefmt import format_ts

Row = dict[str, Any]
INITIAL_STATUS = "draft"  # SPEC §5: new MOCs are drafts


def _write_status(tx: TenantTx, moc_id: str, current: str, target: str, at: str) -> None:
    tx.mocs.set_status(moc_id, target, at)


LIFECYCLE = lifecycle.Lifecycle(
    machine="moc",
    noun="MOC",
    resource_type="moc",
    event_type="moc.status_changed",
    history="moc",
    load=lambda tx, moc_id: tx.mocs.get_moc(moc_id),
    write_status=_write_status,
)


async def list_mocs(db: TenantDb, flt: MocFilter, sort: str | None, page: PageRequest) -> Page:
    return await read_page(
        db,
        lambda tx, limit, offset: tx.mocs.list_mocs(flt, sort=sort, limit=limit, offset=offset),
        page,
        lambda tx, rows: lifecycle.with_histories(tx, LIFECYCLE, rows),
    )


def load_moc(tx: TenantTx, moc_id: str) -> Row:
    """The representation a GET returns (with its history); 404 if none."""
    return lifecycle.get(tx, LIFECYCLE, moc_id)


async def get_moc(db: TenantDb, moc_id: str) -> Row:
    return await db.read(lambda tx: load_moc(tx, moc_id))


async def create_moc(
    db: TenantDb, values: dict[str, Any], *, actor: str | None, now: datetime
) -> Row:
    """Insert a `draft` MOC; its history starts with `{"from": null, "to": "draft"}`."""

    def write(tx: TenantTx) -> Row:
        require(tx, "assets", values.get("asset_id"), "asset_id")
        at = format_ts(now)
        moc_id = new_id("moc")
        tx.mocs.insert_moc(
            {**values, "id": moc_id, "status": INITIAL_STATUS, "created_at": at, "updated_at": at},
        )
        lifecycle.record_creation(tx, LIFECYCLE, moc_id, INITIAL_STATUS, actor=actor, at=at)
        return lifecycle.get(tx, LIFECYCLE, moc_id)

    return await db.write(write)


async def update_moc(
    db: TenantDb, moc_id: str, changes: dict[str, Any], *, actor: str | None, now: datetime
) -> Row:
    """Apply a partial update of the non-status fields; a no-op changes nothing."""

    def write(tx: TenantTx) -> Row:
        before = lifecycle.get(tx, LIFECYCLE, moc_id)
        changed = {k: v for k, v in changes.items() if before.get(k) != v}
        if not changed:
            return before
        lifecycle.require_editable(LIFECYCLE, before)
        if "asset_id" in changed:
            require(tx, "assets", changed["asset_id"], "asset_id")
        tx.mocs.update_moc(moc_id, changed, format_ts(now))
        return lifecycle.get(tx, LIFECYCLE, moc_id)

    return await db.write(write)


async def change_status(
    db: TenantDb, moc_id: str, target: str, comment: str | None, *, actor: str | None, now: datetime
) -> Row:
    """One step of the §6 MOC lifecycle; 409 with the allowed next states otherwise."""
    return await db.write(
        lambda tx: lifecycle.transition(
            tx, LIFECYCLE, moc_id, target, comment, actor=actor, now=now
        )
    )
