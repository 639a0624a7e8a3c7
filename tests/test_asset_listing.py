"""Asset lists made fast (issue 7) must stay exactly right.

- `after` keyset cursors walk a list in every order, NULL sort values included, without
  skipping or repeating, and agree with `page`;
- `meta.total` (maintained counts, or a count remembered for the file's snapshot) is right
  after every kind of write, including one by another connection (the CLI's process);
- `search` through the trigram index finds exactly what `LIKE '%term%'` finds, on the
  inputs that trip such things up;
- deep pages that start from anchors return what a plain OFFSET returns.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import apsw
import pytest

from reliatic_appliance.keys import TENANT_DBS
from reliatic_appliance.services import assets as asset_service
from reliatic_appliance.storage import assets as asset_store
from reliatic_appliance.storage import listing
from reliatic_appliance.storage.sqlite import Database
from reliatic_appliance.storage.transactions import SqliteTenantTx
from reliatic_appliance.timefmt import utc_now
from tests.conftest import Api, create_asset

TYPES = ("vessel", "piping", "tank", "heat_exchanger", "rotating")


async def _db(api: Api) -> Database:
    return await api.client.app[TENANT_DBS].get(api.tenant["id"])


async def _make_assets(api: Api, count: int) -> list[dict[str, Any]]:
    made = []
    for n in range(count):
        fields: dict[str, Any] = {
            "tag_number": f"T-{n:03d}",
            "name": f"Asset {n % 7}",
            "asset_type": TYPES[n % 5],
            "description": f"unit {n % 3} line",
        }
        if n % 4:  # some assets have no install_date, so sorts meet NULLs
            fields["install_date"] = f"20{10 + n % 9:02d}-0{1 + n % 9}-1{n % 10}"
        if n % 6 == 0:
            fields["status"] = "inactive"
        made.append(await create_asset(api, **fields))
    return made


async def _list(api: Api, query: str) -> tuple[dict[str, Any], dict[str, str]]:
    response = await api.get(f"/api/v1/assets?{query}")
    assert response.status == 200, await response.text()
    links = {
        rel: url
        for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', response.headers.get("Link", ""))
    }
    return await response.json(), links


async def _follow(api: Api, query: str) -> list[str]:
    """The ids of every page from `query` on, following the `next` links."""
    seen: list[str] = []
    next_query: str | None = query
    while next_query is not None:
        body, links = await _list(api, next_query)
        seen += [a["id"] for a in body["data"]]
        assert "first" in links
        next_query = urllib.parse.urlsplit(links["next"]).query if "next" in links else None
    return seen


@pytest.mark.parametrize(
    "query",
    [
        "",
        "sort=-install_date",
        "sort=install_date",
        "sort=name",
        "sort=-name&type=vessel",
        "status=active&sort=-updated_at",
        "search=line&sort=-tag_number",
    ],
)
async def test_after_cursor_walks_the_whole_list_in_order(api: Api, query: str) -> None:
    await _make_assets(api, 23)
    prefix = f"{query}&" if query else ""
    everything, _ = await _list(api, f"{prefix}per_page=100")
    expected = [a["id"] for a in everything["data"]]
    for per_page in (1, 4, 7, 100):
        # Page 1 as usual, then the first step by the last item's id, then the links.
        body, _ = await _list(api, f"{prefix}per_page={per_page}")
        walked = [a["id"] for a in body["data"]]
        walked += await _follow(api, f"{prefix}per_page={per_page}&after={walked[-1]}")
        assert walked == expected, f"per_page={per_page}"


async def test_after_in_the_default_order_is_the_last_id(api: Api) -> None:
    made = await _make_assets(api, 9)
    ids = sorted(a["id"] for a in made)
    body, links = await _list(api, f"after={ids[3]}&per_page=4")
    assert [a["id"] for a in body["data"]] == ids[4:8]
    # total and total_pages describe the whole filtered list, not what is left.
    assert body["meta"] == {"page": 1, "per_page": 4, "total": 9, "total_pages": 3}
    assert f"after={ids[7]}" in links["next"]
    body, links = await _list(api, f"after={ids[7]}&per_page=4")
    assert [a["id"] for a in body["data"]] == ids[8:]
    assert "next" not in links
    # `page` counts from the cursor.
    body, _ = await _list(api, f"after={ids[0]}&per_page=2&page=2")
    assert [a["id"] for a in body["data"]] == ids[3:5]


async def test_a_sorted_cursor_survives_a_change_of_its_item(api: Api) -> None:
    """The `next` cursor carries the sort value: the item it names moving skips nothing."""
    await _make_assets(api, 9)
    first, _ = await _list(api, "sort=updated_at&per_page=3")
    last = first["data"][-1]["id"]
    second, links = await _list(api, f"sort=updated_at&per_page=3&after={last}")
    moved = second["data"][-1]["id"]
    response = await api.put(f"/api/v1/assets/{moved}", json={"name": "Renamed"})
    assert response.status == 200  # now the newest updated_at: it moves to the end
    rest = await _follow(api, urllib.parse.urlsplit(links["next"]).query)
    everyone = [a["id"] for a in first["data"] + second["data"]] + rest
    assert len(set(everyone)) == 9  # nobody skipped
    assert everyone.count(moved) == 2 and len(everyone) == 10  # seen before and after moving
    assert everyone[-1] == moved


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("sort=name&after=ast_01JQ8Z6X4M0000000000000000", "after"),
        ("after=" + "A" * 513, "after"),
        ("after=has%20space", "after"),
    ],
)
async def test_a_bad_cursor_is_a_validation_error(api: Api, query: str, field: str) -> None:
    response = await api.get(f"/api/v1/assets?{query}")
    assert response.status == 400
    body = await response.json()
    assert body["error"] == "validation_error"
    assert [d["field"] for d in body["details"]] == [field]


async def test_a_cursor_of_another_sort_is_refused(api: Api) -> None:
    made = await _make_assets(api, 3)
    cursor = listing.encode_cursor("name", made[0], asset_store.SORTABLE_COLUMNS)
    response = await api.get(f"/api/v1/assets?sort=-name&after={cursor}")
    assert response.status == 400
    assert (await response.json())["details"][0]["field"] == "after"


# -- totals ----------------------------------------------------------------------------


async def _brute_totals(api: Api) -> dict[str, int]:
    body, _ = await _list(api, "per_page=100")
    rows = body["data"]
    totals = {"": len(rows)}
    for t in TYPES:
        totals[f"type={t}"] = sum(r["asset_type"] == t for r in rows)
        for s in ("active", "inactive", "decommissioned"):
            totals[f"type={t}&status={s}"] = sum(
                r["asset_type"] == t and r["status"] == s for r in rows
            )
    for s in ("active", "inactive", "decommissioned"):
        totals[f"status={s}"] = sum(r["status"] == s for r in rows)
    return totals


async def _assert_totals(api: Api) -> None:
    for query, expected in (await _brute_totals(api)).items():
        body, _ = await _list(api, query)
        assert body["meta"]["total"] == expected, query


async def test_totals_stay_right_through_every_kind_of_write(api: Api) -> None:
    made = await _make_assets(api, 12)
    await _assert_totals(api)
    await api.put(f"/api/v1/assets/{made[0]['id']}", json={"asset_type": "tank"})
    await api.put(f"/api/v1/assets/{made[1]['id']}", json={"status": "inactive"})
    await api.put(f"/api/v1/assets/{made[2]['id']}", json={"name": "only the name"})
    await api.delete(f"/api/v1/assets/{made[3]['id']}")
    await api.put(
        f"/api/v1/assets/{made[4]['id']}", json={"status": "active", "asset_type": "rotating"}
    )
    await _assert_totals(api)
    # A refused write (duplicate tag) changes nothing.
    response = await api.post(
        "/api/v1/assets", json={"tag_number": "t-000", "name": "dup", "asset_type": "tank"}
    )
    assert response.status == 409
    await _assert_totals(api)


def _another_connection(db: Any, tenant_id: str) -> tuple[Any, Callable[[], None]]:
    """A second database object on the tenant's data, with connections of its own."""
    if isinstance(db, Database):
        other = Database(db.path, SqliteTenantTx)
        return other, other.close
    from reliatic_appliance.storage.postgresql.database import PgDatabase, PgPool
    from reliatic_appliance.storage.postgresql.transactions import PgTenantTx

    pool = PgPool(db.pool.pool.conninfo, max_size=2)
    pool.open()
    pg = PgDatabase(pool, lambda cur: PgTenantTx(cur, tenant_id), tenant_id=tenant_id)
    return pg, pool.close


async def test_totals_see_a_write_by_another_connection_at_once(api: Api) -> None:
    """The CLI writes from another process; a remembered total must not outlive it."""
    await _make_assets(api, 5)
    queries = ["search=unit", "search=T-0", "updated_since=2000-01-01T00:00:00Z", "type=tank"]
    before = {q: (await _list(api, q))[0]["meta"]["total"] for q in queries}
    db = await _db(api)
    # Its own connections, like another process's (on PostgreSQL: another node's pool).
    other, close = _another_connection(db, api.tenant["id"])
    try:
        await asset_service.create_asset(
            other,
            {
                "tag_number": "T-0X",
                "name": "x",
                "asset_type": "tank",
                "status": "active",
                "description": "unit 9",
            },
            actor="cli",
            now=utc_now(),
        )
    finally:
        close()
    after = {q: (await _list(api, q))[0]["meta"]["total"] for q in queries}
    assert after == {q: n + 1 for q, n in before.items()}


# -- search ----------------------------------------------------------------------------

TRICKY_TEXTS = [
    ("PCT-1", "100% duty; 50%% margin"),
    ("UND-1", "under_score and under-score"),
    ("QUO-1", 'it\'s the "main" drum'),
    ("BSL-1", r"back\slash and \% escaped"),
    ("UNI-1", "Ölkühler für Hauptpumpe"),
    ("UNI-2", "ölkühler für hauptpumpe"),
    ("UNI-3", "ÉCHANGEUR thermique"),
    ("UNI-4", "Kelvin sign \u212a and long s \u017f"),
    ("UNI-5", "Straße and STRASSE"),
    ("ASC-1", "Crude Charge Pump"),
    ("ASC-2", "crude oil line"),
    ("ab", None),
    ("A%_B", "percent_and underscore in the tag"),
    ("EMO-1", "flare \U0001f525 stack"),
]
TRICKY_TERMS = [
    "%",
    "_",
    "%%",
    "\\",
    "\\%",
    "'",
    '"',
    "it's",
    '"main"',
    "a",
    "A",
    "ab",
    "Ö",
    "ö",
    "öl",
    "Öl",
    "ÖLK",
    "ölk",
    "kühler",
    "KÜHLER",
    "é",
    "É",
    "ÉCH",
    "éch",
    "k",
    "K",
    "\u212a",
    "s",
    "\u017f",
    "ß",
    "ss",
    "strasse",
    "crude",
    "CRUDE",
    "cRuDe c",
    "e c",
    "%_b",
    "A%_",
    "0% m",
    "\U0001f525",
    "\U0001f525 s",
    "no such thing",
    "nit",
    " ",
    "   ",
]


async def _reference(api: Api, term: str) -> list[str]:
    """What SQLite's plain LIKE finds (the semantics before the index: listing.contains_any),
    over the tenant's file, or on PostgreSQL over a copy of its assets in memory."""
    db = await _db(api)
    condition = listing.contains_any(("tag_number", "description"), term)
    query = f"SELECT id FROM assets WHERE {condition.sql} ORDER BY id"
    if isinstance(db, Database):
        rows = db.read_now(lambda tx: list(tx.conn.execute(query, condition.params)))
        return [r["id"] for r in rows]
    assets = await db.read(lambda tx: list(tx.assets.each_asset()))
    memory = apsw.Connection(":memory:")
    memory.execute("CREATE TABLE assets (id TEXT, tag_number TEXT, description TEXT)")
    memory.executemany(
        "INSERT INTO assets VALUES (?, ?, ?)",
        [(a["id"], a["tag_number"], a["description"]) for a in assets],
    )
    return [row[0] for row in memory.execute(query, condition.params)]


@pytest.mark.parametrize("dense", [False, True], ids=["index-page", "scan-page"])
async def test_search_finds_exactly_what_like_finds(
    api: Api, monkeypatch: pytest.MonkeyPatch, dense: bool
) -> None:
    # Either way of reading the page (index matches, or a scan in order) must agree.
    monkeypatch.setattr(asset_store, "DENSE_FACTOR", -1 if dense else 10**9)
    for tag, description in TRICKY_TEXTS:
        await create_asset(api, tag_number=tag, name="n", description=description)
    for term in TRICKY_TERMS:
        expected = await _reference(api, term)
        body, _ = await _list(api, urllib.parse.urlencode({"search": term, "per_page": 100}))
        assert [a["id"] for a in body["data"]] == expected, repr(term)
        assert body["meta"]["total"] == len(expected), repr(term)


@pytest.mark.sqlite_only(
    "the walk index is SQLite's (migration 0009); PostgreSQL searches through pg_trgm"
)
async def test_a_search_walk_reads_its_own_index(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """A dense `search` in the default order walks `assets_for_search_walk` (0009); a sort or
    another filter leaves the planner its own choice. The rows are the same either way."""
    monkeypatch.setattr(asset_store, "DENSE_FACTOR", -1)
    for n in range(30):
        await create_asset(api, tag_number=f"W-{n}", description=f"wet gas {n}", asset_type="tank")
    reader = (await _db(api))._reader
    executed: list[str] = []

    def trace(_cursor: apsw.Cursor, sql: str, _bindings: Any) -> bool:
        executed.append(sql)
        return True

    reader.exec_trace = trace
    try:
        walked, _ = await _list(api, "search=wet&per_page=10")
        hinted = [q for q in executed if asset_store.SEARCH_WALK_INDEX in q]
        executed.clear()
        filtered, _ = await _list(api, "search=wet&type=tank&per_page=10")
        assert not [q for q in executed if asset_store.SEARCH_WALK_INDEX in q]
    finally:
        reader.exec_trace = None
    assert len(hinted) == 1
    plan = reader.execute("EXPLAIN QUERY PLAN " + hinted[0], ["%wet%", "%wet%", 10, 0])
    assert any(asset_store.SEARCH_WALK_INDEX in str(row["detail"]) for row in plan)
    assert [a["id"] for a in walked["data"]] == [a["id"] for a in filtered["data"]]
    assert walked["meta"]["total"] == 30


async def test_search_index_follows_updates(api: Api) -> None:
    asset = await create_asset(api, tag_number="P-100", description="seal leak")
    assert (await _list(api, "search=seal"))[0]["meta"]["total"] == 1
    await api.put(f"/api/v1/assets/{asset['id']}", json={"description": "bearing noise"})
    assert (await _list(api, "search=seal"))[0]["meta"]["total"] == 0
    assert (await _list(api, "search=bearing"))[0]["meta"]["total"] == 1
    await api.put(f"/api/v1/assets/{asset['id']}", json={"tag_number": "Q-200"})
    assert (await _list(api, "search=P-100"))[0]["meta"]["total"] == 0
    assert [a["id"] for a in (await _list(api, "search=q-2"))[0]["data"]] == [asset["id"]]


# -- deep pages ------------------------------------------------------------------------


async def test_deep_pages_from_anchors_match_plain_offsets(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = await _make_assets(api, 40)
    queries = ["", "type=vessel", "status=active", "status=active&type=piping", "search=unit 1"]
    expected = {}
    for query in queries:
        everything, _ = await _list(api, f"{query}&per_page=100")
        expected[query] = [a["id"] for a in everything["data"]]
    monkeypatch.setattr(listing, "DEEP_OFFSET", 2)
    monkeypatch.setattr(listing, "ANCHOR_STRIDE", 3)
    for round_ in range(2):
        for query in queries:
            for per_page in (1, 2, 5):
                pages = -(-len(expected[query]) // per_page)
                for page in [*range(pages, 0, -1), pages + 1]:
                    body, _ = await _list(api, f"{query}&per_page={per_page}&page={page}")
                    start = (page - 1) * per_page
                    assert [a["id"] for a in body["data"]] == expected[query][
                        start : start + per_page
                    ], (query, per_page, page)
        # A write between rounds: anchors of the old snapshot must not be used.
        await api.delete(f"/api/v1/assets/{made[round_ * 7]['id']}")
        await api.put(f"/api/v1/assets/{made[round_ * 7 + 1]['id']}", json={"asset_type": "vessel"})
        for query in queries:
            everything, _ = await _list(api, f"{query}&per_page=100")
            expected[query] = [a["id"] for a in everything["data"]]


def test_migration_file_is_numbered_next() -> None:
    folder = Path(listing.__file__).parent / "migrations" / "tenant"
    names = sorted(p.name for p in folder.glob("*.sql"))
    assert any(n.endswith("_asset_counts_and_search.sql") for n in names)


async def test_a_listed_asset_is_exactly_its_own_representation(api: Api) -> None:
    """List pages are serialised by SQLite, single assets by Python: same keys in the same
    order, same values, whatever the text or the numbers hold."""
    odd = await create_asset(
        api,
        tag_number='V-"7"\\ü€😀',
        name="ünïcödé 中文 </script>",
        description="Tab\tand newline\n and \u2028 line separator",
        nominal_thickness_mm=12.345678901234567,
        required_thickness_mm=0.1 + 0.2,
        corrosion_allowance_mm=1e-7,
        design_pressure_kpa=3060.0,
        design_temperature_c=-40.5,
        install_date="2001-02-03",
    )
    plain = await create_asset(
        api, tag_number="P-2", nominal_thickness_mm=10, required_thickness_mm=6
    )
    for thickness, date in ((9.5, "2020-01-10"), (8.73, "2024-03-01")):
        response = await api.post(
            "/api/v1/inspections",
            json={
                "asset_id": plain["id"],
                "inspection_type": "ut_scanning",
                "inspection_date": date,
                "inspector_name": "J. Smith",
                "status": "completed",
                "min_measured_thickness_mm": thickness,
            },
        )
        assert response.status == 201, await response.text()
    for query in ("", "sort=-nominal_thickness_mm", "search=P-2", "after=" + odd["id"][:-1]):
        listed, _ = await _list(api, query)
        assert listed["data"], query
        for item in listed["data"]:
            single = (await (await api.get(f"/api/v1/assets/{item['id']}")).json())["data"]
            assert list(item) == list(single)
            assert item == single
    computed = (await (await api.get(f"/api/v1/assets/{plain['id']}")).json())["data"]
    assert computed["corrosion_rate_mm_per_year"] is not None
