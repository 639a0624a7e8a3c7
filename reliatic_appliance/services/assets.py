"""Assets (SPEC §5): rules, one transaction per write, and the events each write emits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from reliatic_appliance.errors import Conflict, NotFound, ValidationError
from reliatic_appliance.ids import new_id
from reliatic_appliance.ports import (
    AssetFilter,
    BadCursor,
    TenantDb,
    TenantTx,
    UniqueViolation,
)
from reliatic_appliance.services import asset_metrics
from reliatic_appliance.services.events import emit, emit_many
from reliatic_appliance.services.paging import Page, PageRequest
from reliatic_appliance.services.values import to_storage
from reliatic_appliance.timefmt import format_ts

Row = dict[str, Any]
# Asset fields the computed corrosion fields depend on (SPEC §6).
METRIC_INPUTS = frozenset({"nominal_thickness_mm", "required_thickness_mm", "install_date"})


def _check_thicknesses(asset: Row) -> None:
    nominal = asset.get("nominal_thickness_mm")
    required = asset.get("required_thickness_mm")
    if nominal is not None and required is not None and required >= nominal:
        raise ValidationError.field(
            "required_thickness_mm", "must be less than nominal_thickness_mm"
        )


def _tag_conflict(tag_number: str) -> Conflict:
    return Conflict(
        f"An asset with tag_number '{tag_number}' already exists.",
        [{"field": "tag_number", "message": "already exists in this tenant"}],
    )


async def list_assets(db: TenantDb, flt: AssetFilter, sort: str | None, page: PageRequest) -> Page:
    def read(tx: TenantTx) -> Page:
        window = tx.assets.list_assets(
            flt, sort=sort, limit=page.per_page, offset=page.offset, after=page.after
        )
        return Page(
            items=[],
            items_json=[row["json"] for row in window.rows],
            total=window.total,
            request=page,
            next_after=window.next_after,
        )

    try:
        return await db.read(read)
    except BadCursor as exc:
        raise ValidationError.field("after", str(exc)) from None


def load_asset(tx: TenantTx, asset_id: str) -> Row:
    """The representation a GET returns, inside the caller's transaction; 404 if none."""
    row = tx.assets.get_asset(asset_id)
    if row is None:
        raise NotFound(f"Asset {asset_id} not found.")
    return row


async def get_asset(db: TenantDb, asset_id: str) -> Row:
    return await db.read(lambda tx: load_asset(tx, asset_id), snapshot=False)


def insert_new_asset(tx: TenantTx, asset: Row, *, actor: str | None, now: datetime) -> Row:
    """Write one new asset (storage values) and its `asset.created` event, inside the
    caller's write transaction. The one place an asset is created (API, demo, benchmark);
    `insert_new_assets` is the same for many at once (CSV import)."""
    _check_thicknesses(asset)
    if tx.assets.tag_exists(asset["tag_number"]):
        raise _tag_conflict(asset["tag_number"])
    at = format_ts(now)
    asset_id = new_id("ast")
    try:
        tx.assets.insert_asset({**asset, "id": asset_id, "created_at": at, "updated_at": at})
    except UniqueViolation:
        # Only reachable when another process (the CLI) inserted the tag meanwhile.
        raise _tag_conflict(asset["tag_number"]) from None
    row = tx.assets.get_asset(asset_id)
    assert row is not None
    emit(
        tx,
        event_type="asset.created",
        resource_type="asset",
        resource_id=asset_id,
        before=None,
        after=row,
        actor=actor,
        at=at,
    )
    return row


def prepare_new_asset(values: dict[str, Any]) -> Row:
    """A create model's values as storage takes them, checked by the rules no field model
    can express alone; a `ValidationError` otherwise. Before any transaction, so a bad
    request never takes a place in a group commit, nor a bad CSV row the import's lock."""
    asset = to_storage(values)
    _check_thicknesses(asset)
    return asset


async def create_asset(
    db: TenantDb, values: dict[str, Any], *, actor: str | None, now: datetime
) -> Row:
    asset = prepare_new_asset(values)
    return await db.write(lambda tx: insert_new_asset(tx, asset, actor=actor, now=now))


def new_assets(assets: Sequence[Row], *, now: datetime) -> list[Row]:
    """Ids and timestamps for assets (storage values from `prepare_new_asset`) that
    `insert_new_assets` will create together: made before the write transaction begins,
    which keeps it shorter (0.6 s of CPU for 100k assets, bench/csv_import.py)."""
    at = format_ts(now)
    # Sorted, so that the list's default order (by id) is the order the assets were given
    # in (a register's): ids made in the same millisecond would otherwise shuffle them.
    ids = sorted(new_id("ast") for _ in assets)
    return [
        {**asset, "id": asset_id, "created_at": at, "updated_at": at}
        for asset_id, asset in zip(ids, assets, strict=True)
    ]


def insert_new_assets(tx: TenantTx, assets: Sequence[Row], *, actor: str | None) -> list[Row]:
    """`insert_new_asset` for many (from `new_assets`, tags distinct), inside the caller's
    one write transaction: the same rows and `asset.created` events, written a table at a
    time (one asset at a time: 2,400 rows/s; this way: see `SqliteAssets.insert_assets`).
    A tag that exists raises `UniqueViolation`, and the caller's transaction then writes
    nothing. Returns the assets as GET shows them."""
    rows = tx.assets.insert_assets(assets)
    if rows:
        emit_many(
            tx,
            event_type="asset.created",
            resource_type="asset",
            changes=[(row["id"], None, row) for row in rows],
            actor=actor,
            at=rows[0]["created_at"],
        )
    return rows


async def update_asset(
    db: TenantDb, asset_id: str, changes: dict[str, Any], *, actor: str | None, now: datetime
) -> Row:
    """Apply a partial update; emit `asset.updated` (or `asset.decommissioned`) if it changed."""
    changes = to_storage(changes)

    def write(tx: TenantTx) -> Row:
        before = tx.assets.get_asset(asset_id)
        if before is None:
            raise NotFound(f"Asset {asset_id} not found.")
        changed = {k: v for k, v in changes.items() if before.get(k) != v}
        if not changed:
            return before
        _check_thicknesses({**before, **changed})
        if "tag_number" in changed and tx.assets.tag_exists(changed["tag_number"], asset_id):
            raise _tag_conflict(changed["tag_number"])
        at = format_ts(now)
        tx.assets.update_asset(asset_id, changed, at)
        if METRIC_INPUTS & changed.keys():
            asset_metrics.refresh(tx, asset_id, actor=actor, at=at, emit_event=False)
        after = tx.assets.get_asset(asset_id)
        assert after is not None
        decommissioned = changed.get("status") == "decommissioned"
        emit(
            tx,
            event_type="asset.decommissioned" if decommissioned else "asset.updated",
            resource_type="asset",
            resource_id=asset_id,
            before=before,
            after=after,
            actor=actor,
            at=at,
        )
        return after

    return await db.write(write)


async def decommission_asset(
    db: TenantDb, asset_id: str, *, actor: str | None, now: datetime
) -> Row:
    """Soft delete (SPEC §5): the row stays with status `decommissioned`."""
    return await update_asset(db, asset_id, {"status": "decommissioned"}, actor=actor, now=now)


# Merging the `search` index (migration 0010), by the scheduler at each tick: steps of this
# many pages, each its own write so that requests' writes take turns with them, and at most
# this many steps a tick (a step held the writer 44 ms at most in the runs below). Each
# tick, not each minute: every commit that indexes an asset adds a segment, and under a
# steady write load (tens of commits a second) a minute's segments filled FTS5's levels to
# its 'crisismerge' (16), which then merged whole levels inside a request's write: 200-300 ms
# about once a minute, and the level above, 16 times bigger, rarer and longer still
# (bench/write_stalls.py). 5 x 200 pages a tick kept up with the fastest POST load here
# (about 1,700 new assets a second: no request's write merged a level in 100 s runs;
# docs/design.md), and merge a bulk import's backlog over the ticks that follow.
SEARCH_MERGE_PAGES = 200
SEARCH_MERGE_STEPS = 5


async def tidy_search_index(db: TenantDb, *, steps: int = SEARCH_MERGE_STEPS) -> int:
    """Merge the `search` index's segments, at most `steps` writes; how many merged some."""
    merged = 0
    while merged < steps and await db.write(
        lambda tx: tx.assets.merge_search_index(SEARCH_MERGE_PAGES)
    ):
        merged += 1
    return merged
