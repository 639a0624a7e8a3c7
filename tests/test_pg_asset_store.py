"""The PostgreSQL asset store and list builder give the SQLite backend's answers.

The same assets go into a SQLite tenant file and a PostgreSQL tenant; then every filter,
sort and way of paging (`page`, `after` by id, `after` by token) is asked of both, and the
rows, totals and cursors must be equal. The data is made to trip such things up: tags that
differ only by case, non-ASCII letters (which SQLite's LIKE and NOCASE do not fold),
LIKE's own wildcards and its escape character, NULLs in every sort column, ties.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from reliatic_appliance.ports import (
    ASSET_SORTABLE,
    AssetFilter,
    BadCursor,
    TenantTx,
    UniqueViolation,
)
from reliatic_appliance.storage import migrate as sqlite_migrate
from reliatic_appliance.storage.sqlite import connect
from reliatic_appliance.storage.transactions import SqliteTenantTx

psycopg = pytest.importorskip("psycopg")

from psycopg.rows import dict_row  # noqa: E402

from reliatic_appliance.storage.postgresql import listing, types  # noqa: E402
from reliatic_appliance.storage.postgresql.assets import (  # noqa: E402
    KEYS,
    NOT_NULL,
    SORTABLE_COLUMNS,
)
from reliatic_appliance.storage.postgresql.transactions import PgTenantTx  # noqa: E402
from tests.pg_cluster import Database, PgCluster  # noqa: E402

pytestmark = pytest.mark.postgresql_only

TENANT = "ten_ASSETSTORE"
OTHER = "ten_OTHERTENANT"
TYPES = ("vessel", "piping", "tank", "heat_exchanger", "rotating")
STATUSES = ("active", "inactive", "decommissioned")
TAGS = ["V-101", "v-102", "É-1", "é-2", "ß-3", "SS-4", "P_1", "P%2", "P\\3", 'Q"4', "z-9", "A-0"]
DESCRIPTIONS = [
    None,
    "Hot line",
    "HOT LINE 100%",
    "under_score",
    "back\\slash",
    "Éclair unit",
    "éclair unit",
    "straße",
    "STRASSE",
    'say "hi"',
    "",
    "line",
]


def _assets() -> list[dict[str, Any]]:
    made = []
    for n in range(60):
        tag = TAGS[n] if n < len(TAGS) else f"T-{n:03d}"
        at = f"2026-03-{1 + n % 5:02d}T10:00:{n % 7:02d}.{n % 3:06d}Z"
        made.append(
            {
                "id": f"ast_{n:026d}",
                "tag_number": tag,
                "name": ["Pump", "pump", "Äther", "Zed", "alpha"][n % 5],
                "asset_type": TYPES[n % 5],
                "description": DESCRIPTIONS[n % len(DESCRIPTIONS)],
                "status": STATUSES[n % 3] if n % 4 else "active",
                "location": None,
                "unit": f"U{n % 2}",
                "manufacturer": None,
                "material": "CS" if n % 2 else None,
                "install_date": f"20{10 + n % 9:02d}-0{1 + n % 9}-1{n % 10}" if n % 4 else None,
                "design_pressure_kpa": [None, 4500, 12.5, -3.25][n % 4],
                "design_temperature_c": None if n % 5 == 0 else n * 1.5,
                "nominal_thickness_mm": None if n % 3 == 0 else 10 + (n % 6) / 4,
                "required_thickness_mm": None,
                "corrosion_allowance_mm": 3,
                "criticality": None,
                "created_at": at,
                "updated_at": at,
            }
        )
    return made


@pytest.fixture(scope="module")
def pg_dsn(pg_cluster: PgCluster) -> Iterator[str]:
    """A migrated database of the session's cluster, as the server's role (RLS applies)."""
    database = pg_cluster.clone()
    try:
        yield database.dsn
    finally:
        pg_cluster.drop(database)


@pytest.fixture
def both(tmp_path: Path, pg_dsn: str) -> Iterator[tuple[SqliteTenantTx, PgTenantTx]]:
    conn = connect(tmp_path / "tenant.db")
    sqlite_migrate.apply_migrations(conn, "tenant")
    pg = psycopg.connect(pg_dsn)
    types.configure(pg)
    cur = pg.cursor(row_factory=dict_row)
    cur.execute("BEGIN")
    cur.execute("SELECT set_config('app.tenant_id', %s, true)", (TENANT,))
    try:
        yield SqliteTenantTx(conn), PgTenantTx(cur, TENANT)
    finally:
        cur.execute("ROLLBACK")
        pg.close()
        conn.close()


def _fill(*txs: TenantTx) -> None:
    for tx in txs:
        made = _assets()
        for asset in made[:20]:
            tx.assets.insert_asset(asset)
        tx.assets.insert_assets(made[20:])


def _items(rows: list[dict[str, Any]]) -> list[Any]:
    return [json.loads(row["json"]) for row in rows]


FILTERS = [
    AssetFilter(),
    AssetFilter(status="inactive"),
    AssetFilter(asset_type="vessel"),
    AssetFilter(status="active", asset_type="tank"),
    AssetFilter(updated_since="2026-03-03T10:00:00.000000Z"),
    *(
        AssetFilter(search=term)
        for term in ("li", "LINE", "line", "é", "É", "clair", "ss", "%", "_", "\\", '"', "v-1")
    ),
    AssetFilter(search="unit", status="active"),
    AssetFilter(search="no such thing"),
]
SORTS = [None, *ASSET_SORTABLE, *(f"-{c}" for c in ASSET_SORTABLE)]


@pytest.mark.parametrize("flt", FILTERS, ids=repr)
def test_every_filter_sort_and_page_agrees(
    both: tuple[SqliteTenantTx, PgTenantTx], flt: AssetFilter
) -> None:
    lite, pg = both
    _fill(lite, pg)
    for sort in SORTS:
        everything = lite.assets.list_assets(flt, sort=sort, limit=100, offset=0)
        theirs = pg.assets.list_assets(flt, sort=sort, limit=100, offset=0)
        assert _items(theirs.rows) == _items(everything.rows), sort
        assert theirs.total == everything.total == pg.assets.count_assets(flt)
        for offset in (0, 3, 7):
            a = lite.assets.list_assets(flt, sort=sort, limit=4, offset=offset)
            b = pg.assets.list_assets(flt, sort=sort, limit=4, offset=offset)
            assert _items(b.rows) == _items(a.rows), (sort, offset)
        if not everything.rows:
            continue
        # `after`: the first step by an item's id, then by the tokens each backend makes,
        # which must be the same tokens.
        after: str | None = everything.rows[0]["id"]
        walked = _items(everything.rows[:1])
        while after is not None:
            a = lite.assets.list_assets(flt, sort=sort, limit=5, offset=0, after=after)
            b = pg.assets.list_assets(flt, sort=sort, limit=5, offset=0, after=after)
            assert _items(b.rows) == _items(a.rows), (sort, after)
            assert b.next_after == a.next_after
            walked += _items(b.rows)
            after = b.next_after
        assert walked == _items(everything.rows), sort


@pytest.mark.parametrize(
    "flt",
    [AssetFilter(), AssetFilter(status="active"), AssetFilter(search="unit")],
    ids=repr,
)
def test_deep_pages_read_through_the_index_give_the_same_rows(
    both: tuple[SqliteTenantTx, PgTenantTx], flt: AssetFilter, monkeypatch: pytest.MonkeyPatch
) -> None:
    # From DEFERRED_OFFSET on, a page's ids come from a subquery first; lowered here so
    # that 60 rows have deep pages, in every order.
    monkeypatch.setattr(listing, "DEFERRED_OFFSET", 2)
    lite, pg = both
    _fill(lite, pg)
    for sort in SORTS:
        for offset in (2, 5, 17, 55, 80):
            a = lite.assets.list_assets(flt, sort=sort, limit=4, offset=offset)
            b = pg.assets.list_assets(flt, sort=sort, limit=4, offset=offset)
            assert _items(b.rows) == _items(a.rows), (sort, offset)
            assert b.total == a.total


def test_writes_keep_totals_and_search_right(both: tuple[SqliteTenantTx, PgTenantTx]) -> None:
    lite, pg = both
    _fill(lite, pg)
    for tx in (lite, pg):
        tx.assets.update_asset(
            "ast_" + "0" * 26, {"status": "decommissioned"}, "2026-04-01T00:00:00.000000Z"
        )
        tx.assets.update_asset(
            "ast_" + "1".rjust(26, "0"),
            {"asset_type": "tank", "description": "fresh words"},
            "2026-04-01T00:00:00.000000Z",
        )
    for flt in (
        AssetFilter(),
        AssetFilter(status="decommissioned"),
        AssetFilter(asset_type="tank"),
        AssetFilter(search="fresh"),
        AssetFilter(updated_since="2026-04-01T00:00:00.000000Z"),
    ):
        assert pg.assets.count_assets(flt) == lite.assets.count_assets(flt), flt
        a = lite.assets.list_assets(flt, sort=None, limit=100, offset=0)
        b = pg.assets.list_assets(flt, sort=None, limit=100, offset=0)
        assert _items(b.rows) == _items(a.rows)
    assert pg.assets.count_all() == lite.assets.count_all() == 60


def test_single_rows_and_lookups_agree(both: tuple[SqliteTenantTx, PgTenantTx]) -> None:
    lite, pg = both
    _fill(lite, pg)
    for asset in _assets():
        assert pg.assets.get_asset(asset["id"]) == lite.assets.get_asset(asset["id"])
    assert pg.assets.get_asset("ast_nothing") is None
    assert list(pg.assets.each_asset()) == list(lite.assets.each_asset())
    probes = ["v-101", "V-102", "é-1", "É-2", "SS-3", "ss-4", "p_1", "T-059", "t-060", "x"]
    assert sorted(pg.assets.existing_tags(probes)) == sorted(lite.assets.existing_tags(probes))
    for tag in probes:
        assert pg.assets.tag_exists(tag) == lite.assets.tag_exists(tag), tag
        assert pg.assets.tag_exists(tag, "ast_" + "0" * 26) == lite.assets.tag_exists(
            tag, "ast_" + "0" * 26
        )
    for table in ("assets", "inspections"):
        assert pg.references.exists(table, "ast_" + "0" * 26) == (table == "assets")
    assert pg.asset_metrics.asset_basis(
        "ast_" + "5".rjust(26, "0")
    ) == lite.asset_metrics.asset_basis("ast_" + "5".rjust(26, "0"))


def test_bulk_insert_returns_what_get_gives(both: tuple[SqliteTenantTx, PgTenantTx]) -> None:
    lite, pg = both
    made = _assets()
    a = lite.assets.insert_assets(made)
    b = pg.assets.insert_assets(made)
    assert b == a == [pg.assets.get_asset(m["id"]) for m in made]


def test_a_tag_that_differs_only_by_case_is_taken(both: tuple[SqliteTenantTx, PgTenantTx]) -> None:
    _, pg = both
    _fill(pg)
    with pytest.raises(UniqueViolation) as caught:
        pg.assets.insert_asset({**_assets()[0], "id": "ast_new", "tag_number": "v-101"})
    assert caught.value.column == "tag_number"


@pytest.mark.parametrize(
    "after",
    [
        "ast_nothing",
        "WyJuYW1lIiwxLCJhc3RfMSJd",
        "WyJpbnN0YWxsX2RhdGUiLCJub3QgYSBkYXRlIiwiYXN0XzEiXQ",
    ],
)
def test_a_cursor_that_is_not_this_lists_is_bad(
    both: tuple[SqliteTenantTx, PgTenantTx], after: str
) -> None:
    """An unknown id, a token whose value is not of the column's type ([name, 1, id]: a
    number for text; [install_date, "not a date", id])."""
    _, pg = both
    _fill(pg)
    sort = "install_date" if "aW5zdGFsbF9kYXRl" in after else "name"
    with pytest.raises(BadCursor):
        pg.assets.list_assets(AssetFilter(), sort=sort, limit=5, offset=0, after=after)


def test_another_tenant_sees_none_of_them(both: tuple[SqliteTenantTx, PgTenantTx]) -> None:
    _, pg = both
    _fill(pg)
    other = PgTenantTx(pg.cur, OTHER)
    # The transaction is still scoped to TENANT by RLS: the store's own WHERE gives nothing,
    # and the maintained counts are per tenant.
    assert other.assets.count_all() == 0
    assert other.assets.list_assets(AssetFilter(), sort=None, limit=5, offset=0).rows == []
    assert other.assets.get_asset(_assets()[0]["id"]) is None
    assert not other.assets.tag_exists("V-101")


def _assess(tx: TenantTx, n: int, asset: int, p: int, c: int, date: str, at: str) -> None:
    values = (f"ras_{n:03d}", f"ast_{asset:026d}", p, c, p * c, "low", date, at, at)
    columns = (
        "id, asset_id, probability_of_failure, consequence_of_failure, risk_score,"
        " risk_ranking, assessment_date, created_at, updated_at"
    )
    if isinstance(tx, PgTenantTx):
        tx.cur.execute(
            f"INSERT INTO risk_assessments (tenant_id, {columns})"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (TENANT, *values),
        )
    else:
        assert isinstance(tx, SqliteTenantTx)
        tx.conn.execute(
            f"INSERT INTO risk_assessments ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", values
        )


def _inspect(tx: TenantTx, n: int, asset: int, date: str, status: str, mm: float | None) -> None:
    at = "2026-03-01T00:00:00.000000Z"
    values = (f"ins_{n:03d}", f"ast_{asset:026d}", "visual", date, "J", status, mm, "C", at, at)
    columns = (
        "id, asset_id, inspection_type, inspection_date, inspector_name, status,"
        " min_measured_thickness_mm, effectiveness, created_at, updated_at"
    )
    if isinstance(tx, PgTenantTx):
        tx.cur.execute(
            f"INSERT INTO inspections (tenant_id, {columns})"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (TENANT, *values),
        )
    else:
        assert isinstance(tx, SqliteTenantTx)
        tx.conn.execute(
            f"INSERT INTO inspections ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", values
        )


def test_risk_cells_metrics_and_due_inspections_agree(
    both: tuple[SqliteTenantTx, PgTenantTx],
) -> None:
    """The Overview, the risk-cell filter and the metrics' inputs: "newest" assessment by
    date, then created, then id, over ties; decommissioned assets left out."""
    lite, pg = both
    _fill(lite, pg)
    early, late = "2026-03-01T00:00:00.000000Z", "2026-03-02T00:00:00.000000Z"
    for tx in (lite, pg):
        n = 0
        for asset in range(0, 40, 3):
            for p, c, date, at in (
                (1 + asset % 5, 2, "2025-01-01", late),
                (2, 1 + asset % 4, "2025-06-01", early),
                (3, 3, "2025-06-01", early if asset % 2 else late),
            ):
                n += 1
                _assess(tx, n, asset, p, c, date, at)
        for asset in range(0, 30, 4):
            _inspect(tx, asset, asset, f"2024-0{1 + asset % 9}-10", "completed", 9.5)
            _inspect(tx, 100 + asset, asset, "2025-02-01", "draft", 9.0)
            _inspect(tx, 200 + asset, asset, "2023-11-30", "completed", None)
        for asset in range(0, 60, 2):
            metrics = {
                "risk_ranking": tx.asset_metrics.newest_risk_ranking(f"ast_{asset:026d}"),
                "last_inspection_date": None,
                "corrosion_rate_mm_per_year": 0.25 if asset % 3 else None,
                "remaining_life_years": 7.5,
                "next_inspection_due": f"2026-0{1 + asset % 9}-0{1 + asset % 7}",
            }
            changed = tx.asset_metrics.store_metrics(
                f"ast_{asset:026d}", metrics, updated_at="2026-04-01T00:00:00.000000Z"
            )
            assert changed
            assert not tx.asset_metrics.store_metrics(
                f"ast_{asset:026d}", metrics, updated_at="2026-04-02T00:00:00.000000Z"
            )

    def cells(tx: TenantTx) -> list[tuple[Any, ...]]:
        return sorted(tuple(r.values()) for r in tx.overview.risk_cells())

    assert cells(pg) == cells(lite) != []
    for asset in range(0, 30, 2):
        asset_id = f"ast_{asset:026d}"
        assert pg.asset_metrics.completed_inspections(
            asset_id
        ) == lite.asset_metrics.completed_inspections(asset_id)
        assert pg.asset_metrics.newest_risk_ranking(
            asset_id
        ) == lite.asset_metrics.newest_risk_ranking(asset_id)
    assert pg.assets.get_asset("ast_" + "2".rjust(26, "0")) == lite.assets.get_asset(
        "ast_" + "2".rjust(26, "0")
    )
    for start, end, limit in (("2026-01-01", "2026-12-31", 100), ("2026-02-01", "2026-05-03", 4)):
        due = lite.overview.inspections_due(start, end, limit=limit)
        assert pg.overview.inspections_due(start, end, limit=limit) == due
        assert due[0] and due[1] >= len(due[0])
    for p in range(1, 6):
        for c in range(1, 6):
            flt = AssetFilter(probability=p, consequence=c)
            a = lite.assets.list_assets(flt, sort="-tag_number", limit=100, offset=0)
            b = pg.assets.list_assets(flt, sort="-tag_number", limit=100, offset=0)
            assert (_items(b.rows), b.total) == (_items(a.rows), a.total), (p, c)


@pytest.fixture(scope="module")
def analyzed(pg_cluster: PgCluster) -> Iterator[Database]:
    """A database whose tenant holds the test's assets and 20,000 more, committed and
    ANALYZEd: for the plan tests, so that the planner picks an index on statistics rather
    than on a tie between guesses (an earlier version, on one transaction's unanalyzed rows,
    saw the planner take the primary key over the tag index in some full-suite runs)."""
    database = pg_cluster.clone()
    try:
        with psycopg.connect(database.admin_dsn) as owner:
            owner.execute("SELECT set_config('app.tenant_id', %s, true)", (TENANT,))
            filler = [
                {**_assets()[1], "id": f"ast_{n:026d}", "tag_number": f"BULK-{n:05d}"}
                for n in range(100, 20100)
            ]
            tx = PgTenantTx(owner.cursor(row_factory=dict_row), TENANT)
            tx.assets.insert_assets(_assets() + filler)
        with psycopg.connect(pg_cluster.dsn(database.name), autocommit=True) as su:
            su.execute("ANALYZE assets")
        yield database
    finally:
        pg_cluster.drop(database)


def _plan(conn: Any, sql: str, params: Sequence[Any] = ()) -> str:
    return "\n".join(row[0] for row in conn.execute("EXPLAIN " + sql, params).fetchall())


def test_tag_lookups_seek_the_tag_index_under_row_security(analyzed: Database) -> None:
    """As the server's role, a condition can be an index condition only if it is LEAKPROOF
    (postgresql/listing.py): the tag's lookups compare the plain `tag_key` column, so they
    seek its unique index rather than filter every asset of the tenant."""
    after = {
        sort: listing._follows(
            "tag_number", sort.startswith("-"), "BULK-01000", "ast_1", KEYS, NOT_NULL
        )
        for sort in ("tag_number", "-tag_number")
    }
    plans = {
        "tag_exists": (
            "SELECT id FROM assets WHERE tenant_id = %s AND tag_key = %s",
            (TENANT, "bulk-00042"),
        ),
        **{
            f"after in the {sort} order": (
                f"SELECT id FROM assets WHERE tenant_id = %s AND {condition.sql}"
                f" ORDER BY {listing.order_by(sort, SORTABLE_COLUMNS, KEYS)} LIMIT 5",
                (TENANT, *condition.params),
            )
            for sort, condition in after.items()
        },
    }
    with psycopg.connect(analyzed.dsn) as server:
        server.execute("SELECT set_config('app.tenant_id', %s, false)", (TENANT,))
        for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
            server.execute(f"SET {setting} = off")
        for what, (sql, params) in plans.items():
            plan = _plan(server, sql, params)
            # The tag conditions are in the tag index's Index Cond (they would be a Filter
            # over the tenant's rows if RLS kept them from the index, as it does
            # `lower(tag_number) = …`).
            assert "assets_tag_number_key" in plan, (what, plan)
            condition = plan.split("Index Cond: ", 1)[1].split("\n", 1)[0]
            assert "tag_key" in condition, (what, plan)


def test_search_reaches_the_trigram_index_only_through_its_function(
    pg_cluster: PgCluster, analyzed: Database
) -> None:
    """Why `asset_search_ids` exists (migration 0005): as the server's role, LIKE cannot use
    the trigram index (not LEAKPROOF: it must stay behind the policy), whatever it costs;
    inside the function, which runs as reliatic_search, it does. Sequential scans are
    priced out in both; auto_explain shows the plan of the function's own query."""
    term = "clair"
    pattern = listing.like_pattern(term)
    folded = "lower(tag_number COLLATE \"C\") LIKE %s ESCAPE '\\'"
    with psycopg.connect(analyzed.dsn) as server:
        server.execute("SELECT set_config('app.tenant_id', %s, false)", (TENANT,))
        server.execute("SET enable_seqscan = off")
        direct = _plan(server, f"SELECT id FROM assets WHERE {folded}", (pattern,))
        found = server.execute("SELECT count(*) FROM asset_search_ids(%s)", (term,)).fetchone()
    with psycopg.connect(pg_cluster.dsn(analyzed.name)) as su:
        plans: list[str] = []
        su.add_notice_handler(lambda notice: plans.append(notice.message_primary or ""))
        for statement in (
            "LOAD 'auto_explain'",
            "SET auto_explain.log_min_duration = 0",
            "SET auto_explain.log_nested_statements = on",
            "SET auto_explain.log_level = notice",
            "SET enable_seqscan = off",
        ):
            su.execute(statement)
        su.execute("SELECT set_config('app.tenant_id', %s, false)", (TENANT,))
        su.execute("SELECT count(*) FROM asset_search_ids(%s)", (term,)).fetchone()

    def like_in_index_cond(plan: str) -> bool:
        return any("Index Cond:" in line and "~~" in line for line in plan.splitlines())

    # The server's role may use an index for tenant_id (LEAKPROOF), never for the LIKE.
    assert not like_in_index_cond(direct), direct
    inner = [plan for plan in plans if "public.assets" in plan]
    assert inner and like_in_index_cond(inner[0]) and "assets_search" in inner[0], plans
    expected = [
        a
        for a in _assets()
        if any(term in listing.fold(a[c] or "") for c in ("tag_number", "description"))
    ]
    assert expected and found == (len(expected),)
