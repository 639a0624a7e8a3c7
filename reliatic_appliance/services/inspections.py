"""Inspections (SPEC §5): rules, one transaction per write, and the events each write emits.

Rules where SPEC §5 is silent, chosen because inspection records are evidence:

* No delete, and `asset_id` never changes: moving a reading between assets would silently
  rewrite two corrosion histories (SPEC §6). A wrong record is corrected, not moved.
* `inspection_date` is not in the future (after today, UTC) and not before the asset's
  `install_date`: neither can be a real inspection, and either would distort the rates.
* A completed inspection cannot return to draft; it may still be corrected (findings, a
  mistyped reading), which emits no inspection event (SPEC §7 has none) but refreshes the
  asset's computed fields, and so `asset.updated` when they change.
* `inspection.completed` is emitted once per inspection: when it is created completed, or
  when a draft becomes completed.
"""

from __future__ import annotations

import datetime
from typing import Any

from reliatic_appliance.domain.corrosion import validate_reading
from reliatic_appliance.domain.effectiveness import inspection_effectiveness
from reliatic_appliance.errors import Conflict, NotFound, ValidationError
from reliatic_appliance.ids import new_id
from reliatic_appliance.ports import InspectionFilter, TenantDb, TenantTx
from reliatic_appliance.services import asset_metrics
from reliatic_appliance.services.events import emit
from reliatic_appliance.services.paging import Page, PageRequest, read_page
from reliatic_appliance.services.references import check_same_asset, require
from reliatic_appliance.services.values import to_storage
from reliatic_appliance.timefmt import format_ts

Row = dict[str, Any]
# Fields the effectiveness category depends on (SPEC §6).
EFFECTIVENESS_INPUTS = frozenset({"inspection_type", "coverage_percent"})


def check_date_range(date_from: datetime.date | None, date_to: datetime.date | None) -> None:
    if date_from is not None and date_to is not None and date_from > date_to:
        raise ValidationError.field("date_from", "must not be after date_to")


def _check_not_future(inspection_date: datetime.date | None, now: datetime.datetime) -> None:
    # Judged on the UTC calendar: one rule for every date field (SPEC §3).
    if inspection_date is not None and inspection_date > now.date():
        raise ValidationError.field("inspection_date", "must not be in the future (UTC)")


def _check_against_asset(asset: Row, inspection: Row, changed: Row) -> None:
    """The date and reading must be possible for this asset; checked when they change."""
    install_date = asset["install_date"]
    # Both dates are `YYYY-MM-DD` text, whose order is date order.
    if (
        "inspection_date" in changed
        and install_date is not None
        and inspection["inspection_date"] < install_date
    ):
        raise ValidationError.field(
            "inspection_date", f"must not be before the asset's install_date ({install_date})"
        )
    reading = inspection.get("min_measured_thickness_mm")
    if "min_measured_thickness_mm" in changed and reading is not None:
        try:
            validate_reading(reading, asset["nominal_thickness_mm"])
        except ValueError as exc:
            raise ValidationError.field("min_measured_thickness_mm", str(exc)) from None


def _emit_completed(
    tx: TenantTx, row: Row, before: Row | None, *, actor: str | None, at: str
) -> None:
    emit(
        tx,
        event_type="inspection.completed",
        resource_type="inspection",
        resource_id=row["id"],
        before=before,
        after=row,
        actor=actor,
        at=at,
    )


async def list_inspections(
    db: TenantDb, flt: InspectionFilter, sort: str | None, page: PageRequest
) -> Page:
    return await read_page(
        db,
        lambda tx, limit, offset: tx.inspections.list_inspections(
            flt, sort=sort, limit=limit, offset=offset
        ),
        page,
    )


def load_inspection(tx: TenantTx, inspection_id: str) -> Row:
    """The representation a GET returns, inside the caller's transaction; 404 if none."""
    row = tx.inspections.get_inspection(inspection_id)
    if row is None:
        raise NotFound(f"Inspection {inspection_id} not found.")
    return row


async def get_inspection(db: TenantDb, inspection_id: str) -> Row:
    return await db.read(lambda tx: load_inspection(tx, inspection_id))


async def create_inspection(
    db: TenantDb, values: dict[str, Any], *, actor: str | None, now: datetime.datetime
) -> Row:
    _check_not_future(values.get("inspection_date"), now)
    inspection = to_storage(values)
    inspection["effectiveness"] = inspection_effectiveness(
        inspection["inspection_type"], inspection.get("coverage_percent")
    )

    def write(tx: TenantTx) -> Row:
        asset_id = inspection["asset_id"]
        require(tx, "assets", asset_id, "asset_id")
        asset = tx.assets.get_asset(asset_id)
        assert asset is not None
        _check_against_asset(asset, inspection, inspection)
        at = format_ts(now)
        inspection_id = new_id("insp")
        tx.inspections.insert_inspection(
            {**inspection, "id": inspection_id, "created_at": at, "updated_at": at}
        )
        row = tx.inspections.get_inspection(inspection_id)
        assert row is not None
        if row["status"] == "completed":
            _emit_completed(tx, row, None, actor=actor, at=at)
        asset_metrics.refresh(tx, asset_id, actor=actor, at=at)
        return row

    return await db.write(write)


async def update_inspection(
    db: TenantDb,
    inspection_id: str,
    changes: dict[str, Any],
    *,
    actor: str | None,
    now: datetime.datetime,
) -> Row:
    """Apply a partial update; emit `inspection.completed` when a draft becomes completed."""
    _check_not_future(changes.get("inspection_date"), now)
    changes = to_storage(changes)

    def write(tx: TenantTx) -> Row:
        before = tx.inspections.get_inspection(inspection_id)
        if before is None:
            raise NotFound(f"Inspection {inspection_id} not found.")
        check_same_asset(before, changes, "inspection")
        changed = {k: v for k, v in changes.items() if k != "asset_id" and before[k] != v}
        if not changed:
            return before
        if before["status"] == "completed" and changed.get("status") == "draft":
            raise Conflict(
                "A completed inspection cannot return to draft.",
                [{"field": "status", "message": "a completed inspection cannot return to draft"}],
            )
        merged = {**before, **changed}
        asset = tx.assets.get_asset(before["asset_id"])
        assert asset is not None
        _check_against_asset(asset, merged, changed)
        if EFFECTIVENESS_INPUTS & changed.keys():
            effectiveness = inspection_effectiveness(
                merged["inspection_type"], merged["coverage_percent"]
            )
            if effectiveness != before["effectiveness"]:
                changed["effectiveness"] = effectiveness
        at = format_ts(now)
        tx.inspections.update_inspection(inspection_id, changed, at)
        after = tx.inspections.get_inspection(inspection_id)
        assert after is not None
        if before["status"] == "draft" and after["status"] == "completed":
            _emit_completed(tx, after, before, actor=actor, at=at)
        asset_metrics.refresh(tx, before["asset_id"], actor=actor, at=at)
        return after

    return await db.write(write)
