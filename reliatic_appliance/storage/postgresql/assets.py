"""SQL for assets on PostgreSQL: `storage/assets.py` ported, the same rows and answers.

What differs from SQLite, and why:
- `search` finds its matches through `asset_search_ids`, a function that may use the
  trigram index where the server's role may not (LIKE is not LEAKPROOF, so under FORCE ROW
  LEVEL SECURITY no index serves it: postgresql/listing.py; migration 0005 says why the
  function keeps to one tenant). As on SQLite, a term of under 3 characters has no trigram,
  and a common term's page is read by walking the list in order with LIKE (DENSE_FACTOR of
  storage/assets.py, the same rule), which fills it after a few rows.
- the case-insensitive tag (SQLite: `COLLATE NOCASE`) is the generated column `tag_key`,
  folded as NOCASE folds: its unique index is the constraint, and the tag sort, the
  `after` cursor, `tag_exists` and `existing_tags` seek it with plain comparisons.
- a list page's `json` (its items, as `services.assets.list_assets` takes them) is made in
  Python from the same row dicts `get_asset` returns, so both give identical values;
- `insert_assets` is one `INSERT … SELECT FROM unnest(…)` per chunk: the counts' triggers
  work per statement from transition tables, so a bulk insert needs no trigger juggling.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pydantic_core
from psycopg.rows import dict_row

from reliatic_appliance.ports import ASSET_SORTABLE, AssetFilter, Row, Window
from reliatic_appliance.storage import assets as sqlite_assets
from reliatic_appliance.storage.assets import COLUMNS, TRIGRAM, WRITABLE_COLUMNS
from reliatic_appliance.storage.postgresql import listing
from reliatic_appliance.storage.postgresql.errors import unique_violation
from reliatic_appliance.storage.postgresql.listing import Condition, Cursor, SortKey, fold
from reliatic_appliance.storage.postgresql.overview import newest_assessments

SORTABLE_COLUMNS: frozenset[str] = frozenset(ASSET_SORTABLE)
# tag_number orders and compares as SQLite's COLLATE NOCASE column does (0002's tag_key).
KEYS = {"tag_number": SortKey("tag_key", fold)}
# Sortable fields whose columns are NOT NULL (0002): a descending `after` seeks on them.
NOT_NULL = frozenset({"tag_number", "name", "created_at", "updated_at"})
_SELECT = "SELECT " + ", ".join(COLUMNS) + " FROM assets"
_INSERTED = ("id", *WRITABLE_COLUMNS, "created_at", "updated_at")
# The SQL type of each inserted column other than text, for the casts out of unnest().
_TYPES = {
    "install_date": "date",
    "design_pressure_kpa": "double precision",
    "design_temperature_c": "double precision",
    "nominal_thickness_mm": "double precision",
    "required_thickness_mm": "double precision",
    "corrosion_allowance_mm": "double precision",
    "created_at": "timestamptz",
    "updated_at": "timestamptz",
}
# Rows per INSERT of a bulk insert: one text[] parameter per column, whatever the size;
# chunks keep each statement's arrays (and the server's memory for them) bounded.
_CHUNK = 5000


def _matches(term: str) -> Condition:
    """Assets whose folded tag_number or description contains the folded `term` (the rows
    `listing.contains_any` finds), through the trigram index (migration 0005)."""
    return Condition("id IN (SELECT asset_search_ids(%s))", (term,))


def _conditions(flt: AssetFilter, tenant_id: str, *, dense: bool = True) -> list[Condition | None]:
    """The filter as SQL; `dense=False` finds `search` matches through the index."""
    search = flt.search
    if search is not None and len(search) >= TRIGRAM and not dense:
        matching: Condition | None = _matches(search)
    else:
        matching = listing.contains_any(("tag_number", "description"), search)
    return [
        listing.equals("status", flt.status),
        listing.equals("asset_type", flt.asset_type),
        matching,
        listing.at_least("updated_at", flt.updated_since),
        _in_risk_cell(flt.probability, flt.consequence, tenant_id),
    ]


def _in_risk_cell(
    probability: int | None, consequence: int | None, tenant_id: str
) -> Condition | None:
    if probability is None or consequence is None:
        return None
    newest = newest_assessments(tenant_id)
    return Condition(
        f"id IN (SELECT n.asset_id FROM ({newest.sql}) AS n"
        " WHERE n.probability_of_failure = %s AND n.consequence_of_failure = %s)",
        (*newest.params, probability, consequence),
    )


def _text(value: Any) -> str | None:
    """A value as the text PostgreSQL parses back to it (`repr` of a float round-trips)."""
    if value is None or isinstance(value, str):
        return value
    return repr(float(value)) if isinstance(value, float) else str(value)


class PgAssets:
    """PostgreSQL: assets of one tenant (SPEC §5 Assets)."""

    def __init__(self, cur: Cursor, tenant_id: str) -> None:
        self._cur = cur
        self._tenant_id = tenant_id

    def _counts(self, status: str | None, asset_type: str | None) -> int:
        """From the per-(status, type) counts the 0002 triggers maintain: at most 15 rows."""
        clause, params = listing.where(
            [
                listing.tenant(self._tenant_id),
                listing.equals("status", status),
                listing.equals("asset_type", asset_type),
            ]
        )
        row = self._cur.execute(
            f"SELECT COALESCE(SUM(n), 0) AS n FROM asset_counts{clause}", params
        ).fetchone()
        return 0 if row is None else int(row["n"])

    def count_assets(self, flt: AssetFilter) -> int:
        """`meta.total`: from the maintained counts when only status and type filter; a
        `search` alone counts the function's matches; anything else is a COUNT (with a
        `search`, of the function's matches)."""
        if sqlite_assets.counted_by_cells(flt):
            return self._counts(flt.status, flt.asset_type)
        if (term := sqlite_assets.search_alone(flt)) is not None:
            row = self._cur.execute(
                "SELECT COUNT(*) AS n FROM asset_search_ids(%s)", (term,)
            ).fetchone()
            return 0 if row is None else int(row["n"])
        return listing.count(
            self._cur,
            "assets",
            _conditions(flt, self._tenant_id, dense=False),
            tenant_id=self._tenant_id,
        )

    def _dense(self, flt: AssetFilter, total: int) -> bool:
        return sqlite_assets.walk_in_order(flt.search, total, lambda: self._counts(None, None))

    def get_asset(self, asset_id: str) -> Row | None:
        return self._cur.execute(
            _SELECT + " WHERE tenant_id = %s AND id = %s", (self._tenant_id, asset_id)
        ).fetchone()

    def list_assets(
        self,
        flt: AssetFilter,
        *,
        sort: str | None,
        limit: int,
        offset: int,
        after: str | None = None,
    ) -> Window:
        """A page of assets: each row's `json` (its representation), besides the columns
        the `after` cursor of the next page is made of."""
        total = self.count_assets(flt)
        window = listing.fetch_window(
            self._cur,
            select=_SELECT,
            table="assets",
            tenant_id=self._tenant_id,
            conditions=_conditions(flt, self._tenant_id, dense=self._dense(flt, total)),
            sort=sort,
            sortable=SORTABLE_COLUMNS,
            limit=limit,
            offset=offset,
            after=after,
            total=total,
            keys=KEYS,
            not_null=NOT_NULL,
        )
        for row in window.rows:
            row["json"] = pydantic_core.to_json({c: row[c] for c in COLUMNS}).decode()
        return window

    def insert_asset(self, asset: Row) -> None:
        # Another node or process may have inserted the same tag since the caller checked;
        # only the tag's index is a conflict, any other constraint stays the bug it is.
        with unique_violation("tag_number"):
            self._cur.execute(
                f"INSERT INTO assets (tenant_id, {', '.join(_INSERTED)})"
                f" VALUES (%s, {', '.join(['%s'] * len(_INSERTED))})",
                [self._tenant_id, *(asset.get(c) for c in _INSERTED)],
            )

    def insert_assets(self, assets: Sequence[Row]) -> list[Row]:
        """Many new assets, in the caller's transaction; their representations, in order
        (read back, so they are exactly what `get_asset` gives)."""
        if not assets:
            return []
        columns = ", ".join(_INSERTED)
        arrays = ", ".join(["%s::text[]"] * len(_INSERTED))
        values = ", ".join(f"u.{c}::{_TYPES[c]}" if c in _TYPES else f"u.{c}" for c in _INSERTED)
        sql = (
            f"INSERT INTO assets (tenant_id, {columns})"
            f" SELECT %s, {values} FROM unnest({arrays}) AS u ({columns})"
        )
        for start in range(0, len(assets), _CHUNK):
            chunk = assets[start : start + _CHUNK]
            with unique_violation("tag_number"):
                self._cur.execute(
                    sql,
                    [self._tenant_id, *([_text(a.get(c)) for a in chunk] for c in _INSERTED)],
                )
        ids = [a["id"] for a in assets]
        found = {
            row["id"]: row
            for row in self._cur.execute(
                _SELECT + " WHERE tenant_id = %s AND id = ANY(%s::text[])", (self._tenant_id, ids)
            ).fetchall()
        }
        return [found[i] for i in ids]

    def update_asset(self, asset_id: str, changes: Row, updated_at: str) -> None:
        columns = [c for c in WRITABLE_COLUMNS if c in changes]
        assignments = "".join(f"{c} = %s, " for c in columns)
        with unique_violation("tag_number"):
            self._cur.execute(
                f"UPDATE assets SET {assignments}updated_at = %s WHERE tenant_id = %s AND id = %s",
                [*(changes[c] for c in columns), updated_at, self._tenant_id, asset_id],
            )

    def tag_exists(self, tag_number: str, except_id: str | None = None) -> bool:
        row = self._cur.execute(
            "SELECT id FROM assets WHERE tenant_id = %s AND tag_key = %s",
            (self._tenant_id, fold(tag_number)),
        ).fetchone()
        return row is not None and row["id"] != except_id

    def count_all(self) -> int:
        return self._counts(None, None)

    def merge_search_index(self, pages: int) -> bool:
        # The pg_trgm GIN index is PostgreSQL's to keep (autovacuum empties its pending
        # list): there are no segments to merge.
        return False

    def existing_tags(self, tags: Sequence[str]) -> list[str]:
        # One statement for any number of tags (a bulk import checks 100k at once), each
        # compared as the unique index compares, and seeking it.
        rows = self._cur.execute(
            "SELECT t.tag FROM unnest(%s::text[], %s::text[]) AS t (tag, tag_key)"
            " JOIN assets AS a ON a.tenant_id = %s AND a.tag_key = t.tag_key",
            (list(tags), [fold(tag) for tag in tags], self._tenant_id),
        ).fetchall()
        return [row["tag"] for row in rows]

    def each_asset(self) -> Iterator[Row]:
        # A server-side cursor of its own: the rows stream in batches however many there
        # are, and the caller may use the transaction's cursor meanwhile.
        conn = self._cur.connection
        with conn.cursor("each_asset", row_factory=dict_row) as rows:
            rows.execute(_SELECT + " WHERE tenant_id = %s ORDER BY id", (self._tenant_id,))
            yield from rows
