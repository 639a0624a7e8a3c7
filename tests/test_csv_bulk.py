"""The bulk insert a CSV import uses writes exactly what one `insert_new_asset` per row writes:
the rows, the maintained counts, the search index, the events; and on a clash, nothing."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reliatic_appliance.demo.equipment import build_assets
from reliatic_appliance.ids import new_id
from reliatic_appliance.ports import AssetFilter, UniqueViolation
from reliatic_appliance.schemas.assets import AssetCreate
from reliatic_appliance.services.asset_csv import (
    ImportRefused,
    Problem,
    import_assets,
    parse_assets,
)
from reliatic_appliance.services.assets import (
    create_asset,
    insert_new_asset,
    insert_new_assets,
    new_assets,
    prepare_new_asset,
)
from reliatic_appliance.storage.sqlite import Connection, connect, transaction
from reliatic_appliance.storage.tenancy import TenantDatabases, migrate_file
from reliatic_appliance.storage.transactions import SqliteTenantTx
from reliatic_appliance.timefmt import utc_now

pytestmark = pytest.mark.sqlite_only(reason="compares SQLite files and their triggers row by row")

NOW = utc_now()
TRIGGERS = "SELECT name, sql FROM sqlite_schema WHERE type = 'trigger' ORDER BY name"


def _assets(count: int) -> list[dict[str, Any]]:
    records = build_assets(random.Random(5), dt.date(2026, 11, 25), count)
    statuses = ["active", "inactive", "decommissioned"]
    assets = []
    for n, record in enumerate(records):
        body = {k: v for k, v in record.items() if not k.startswith("_") and v is not None}
        body["status"] = statuses[n % 3]
        model = AssetCreate.model_validate_json(json.dumps(body))
        sent = {name: getattr(model, name) for name in model.model_fields_set}
        assets.append(prepare_new_asset(sent))
    return assets


@pytest.fixture
def files(tmp_path: Path) -> Iterator[tuple[Connection, Connection]]:
    conns = []
    for name in ("per-row", "bulk"):
        path = tmp_path / f"{name}.db"
        migrate_file(path, "tenant")
        conns.append(connect(path))
    yield conns[0], conns[1]
    for conn in conns:
        conn.close()


def _state(conn: Connection) -> dict[str, Any]:
    """Everything an insert touches, without the ids and times that differ between runs."""
    tx = SqliteTenantTx(conn)
    by_id = {a["id"]: a["tag_number"] for a in tx.assets.each_asset()}

    def plain(asset: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in asset.items() if k not in ("id", "created_at", "updated_at")}

    events = conn.execute("SELECT * FROM events ORDER BY id").fetchall()
    searches = {}
    for term in ("crude", "p-1", "vessel", "naphtha service", "sa-516"):
        window = tx.assets.list_assets(AssetFilter(search=term), sort=None, limit=1000, offset=0)
        searches[term] = (window.total, sorted(by_id[row["id"]] for row in window.rows))
    return {
        "assets": sorted((plain(a) for a in tx.assets.each_asset()), key=lambda a: a["tag_number"]),
        "counts": conn.execute("SELECT * FROM asset_counts ORDER BY 1, 2").fetchall(),
        "search_index": sorted(
            (r["tag_number"], r["description"])
            for r in conn.execute("SELECT tag_number, description FROM asset_search")
        ),
        "search_rows_match": conn.execute(
            "SELECT COUNT(*) AS n FROM asset_search AS s JOIN assets AS a ON a.rowid = s.rowid"
            " WHERE s.tag_number = lower(a.tag_number)"
        ).fetchone(),
        "events": sorted(
            (e["type"], e["resource_type"], by_id[e["resource_id"]], e["actor"]) for e in events
        ),
        "searches": searches,
        "triggers": conn.execute(TRIGGERS).fetchall(),
    }


def test_bulk_insert_writes_what_one_insert_per_row_writes(
    files: tuple[Connection, Connection],
) -> None:
    per_row, bulk = files
    assets = _assets(600)
    with transaction(per_row):
        tx = SqliteTenantTx(per_row)
        for asset in assets:
            insert_new_asset(tx, asset, actor="cli", now=NOW)
    with transaction(bulk):
        rows = insert_new_assets(SqliteTenantTx(bulk), new_assets(assets, now=NOW), actor="cli")
    assert _state(bulk) == _state(per_row)
    assert _state(bulk)["search_rows_match"]["n"] == 600
    # Each event carries the asset as GET returns it, and the rows returned are those.
    tx = SqliteTenantTx(bulk)
    events = bulk.execute("SELECT resource_id, data FROM events ORDER BY id").fetchall()
    for row, event in zip(rows, events, strict=True):
        assert row == tx.assets.get_asset(row["id"])
        assert json.loads(event["data"]) == {"before": None, "after": row}
    # Ids follow the order the assets were given in (the list's default order).
    assert [r["tag_number"] for r in rows] == [a["tag_number"] for a in assets]
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)


def test_rows_written_one_at_a_time_afterwards_are_still_counted_and_indexed(
    files: tuple[Connection, Connection],
) -> None:
    _, bulk = files
    assets = _assets(20)
    with transaction(bulk):
        insert_new_assets(SqliteTenantTx(bulk), new_assets(assets[:10], now=NOW), actor="cli")
    with transaction(bulk):
        tx = SqliteTenantTx(bulk)
        for asset in assets[10:]:
            insert_new_asset(tx, asset, actor=None, now=NOW)
    assert bulk.execute("SELECT SUM(n) AS n FROM asset_counts").fetchone() == {"n": 20}
    assert bulk.execute("SELECT COUNT(*) AS n FROM asset_search").fetchone() == {"n": 20}


def test_a_tag_that_exists_rolls_the_whole_batch_back_triggers_included(
    files: tuple[Connection, Connection],
) -> None:
    _, bulk = files
    assets = _assets(30)
    with transaction(bulk):
        insert_new_assets(SqliteTenantTx(bulk), new_assets(assets[:5], now=NOW), actor="cli")
    before = _state(bulk)
    clash = [*assets[5:], {**assets[0], "tag_number": assets[0]["tag_number"].lower()}]
    with pytest.raises(UniqueViolation), transaction(bulk):
        insert_new_assets(SqliteTenantTx(bulk), new_assets(clash, now=NOW), actor="cli")
    assert _state(bulk) == before
    assert len(before["triggers"]) >= 2  # both bulk-maintained triggers are back


class _TagTakenBeforeTheWrite:
    """The real tenant database, with a create through the API's service between the
    import's check of the tags and its write: the race with a running server."""

    def __init__(self, db: Any, tag: str) -> None:
        self._db = db
        self._tag = tag

    def read(self, fn: Any, *, snapshot: bool = True) -> Any:
        return self._db.read(fn, snapshot=snapshot)

    async def write(self, fn: Any, *, linger: float = 0.0) -> Any:
        body = {"tag_number": self._tag, "name": "API", "asset_type": "tank", "status": "active"}
        await create_asset(self._db, body, actor="key", now=utc_now())
        return await self._db.write(fn)


async def test_a_tag_taken_between_the_check_and_the_write_refuses_the_file(
    tmp_path: Path,
) -> None:
    databases = TenantDatabases(tmp_path)
    try:
        db = await databases.get(new_id("ten"))
        data = b"tag_number,name,asset_type\nA-1,One,tank\nB-2,Two,tank\n"
        parsed = parse_assets(data)
        with pytest.raises(ImportRefused) as refused:
            await import_assets(
                _TagTakenBeforeTheWrite(db, "b-2"), parsed, actor="cli", now=utc_now()
            )
        assert refused.value.problems == [
            Problem(3, "tag_number", "already exists in this tenant (added meanwhile)")
        ]
        tags = await db.read(lambda tx: [a["tag_number"] for a in tx.assets.each_asset()])
        assert tags == ["b-2"]  # only the API's asset: the file wrote nothing
    finally:
        databases.close()
