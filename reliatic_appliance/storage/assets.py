"""SQL for assets. Every value is a bound parameter; only vetted column names are spliced."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence

import apsw

from reliatic_appliance.ports import ASSET_SORTABLE, AssetFilter, Row, UniqueViolation, Window
from reliatic_appliance.storage import listing
from reliatic_appliance.storage.overview import NEWEST_ASSESSMENTS
from reliatic_appliance.storage.sqlite import scalar, unique_failed

# Insertable/updatable columns, in table order. Column names below come only from here
# or from the sort whitelist in the schema, never from a request.
WRITABLE_COLUMNS: tuple[str, ...] = (
    "tag_number",
    "name",
    "asset_type",
    "description",
    "status",
    "location",
    "unit",
    "manufacturer",
    "material",
    "install_date",
    "design_pressure_kpa",
    "design_temperature_c",
    "nominal_thickness_mm",
    "required_thickness_mm",
    "corrosion_allowance_mm",
    "criticality",
)
COMPUTED_COLUMNS: tuple[str, ...] = (
    "risk_ranking",
    "last_inspection_date",
    "corrosion_rate_mm_per_year",
    "remaining_life_years",
    "next_inspection_due",
)
SORTABLE_COLUMNS: frozenset[str] = frozenset(ASSET_SORTABLE)
# Columns of type REAL (0001): SQLite stores an int given to one as a float.
_REAL_COLUMNS = frozenset(
    {
        "design_pressure_kpa",
        "design_temperature_c",
        "nominal_thickness_mm",
        "required_thickness_mm",
        "corrosion_allowance_mm",
        "corrosion_rate_mm_per_year",
        "remaining_life_years",
    }
)
# The triggers of 0005 whose work `insert_assets` does once for a whole batch.
_BULK_TRIGGERS = ("asset_counts_insert", "asset_search_insert")
# An asset's representation: these columns, in this order (SPEC §5 Assets).
COLUMNS: tuple[str, ...] = ("id", *WRITABLE_COLUMNS, *COMPUTED_COLUMNS, "created_at", "updated_at")
_SELECT = "SELECT " + ", ".join(COLUMNS) + " FROM assets"
# The same representation as JSON text, for list pages: the column `representation` that
# SQLite makes with json_object() whenever the row is written (migration 0008). A page of 25
# is then 25 strings read, rather than 600 values made into dicts and serialised again (a
# third of a list request's time, issue 7), or 600 values made into JSON on every read (two
# thirds of the page's time in SQLite, issue 16). Same keys, same order, same values as
# `get_asset` gives (tests/test_asset_listing.py compares them).
REPRESENTATION = "representation"


# `search` terms with at least this many characters use the trigram index (0005 migration);
# shorter ones have no trigram and scan with LIKE.
TRIGRAM = 3
# A search page is read either from the index's matches (about 6 us each: trigram lists
# are long, so enumerating matches is not free) or by walking the list in order with LIKE
# until a page is full (about 1 us a row, 25 * all / matches rows). Both give the same rows;
# the index wins below about 2 * sqrt(all assets) matches (650 of 100k, measured), i.e.
# for the rare terms - a tag number - where a LIKE walk would read the whole table.
DENSE_FACTOR = 4


# The rules both backends follow (storage/postgresql/assets.py uses them too).
def in_risk_cell(flt: AssetFilter) -> bool:
    return flt.probability is not None and flt.consequence is not None


def counted_by_cells(flt: AssetFilter) -> bool:
    """Only status and type filter: the total is a sum of the maintained per-cell counts."""
    return flt.search is None and flt.updated_since is None and not in_risk_cell(flt)


def search_alone(flt: AssetFilter) -> str | None:
    """The `search` term when it has a trigram and is the only filter (the total is then
    its index's matches); None otherwise."""
    others = (flt.status, flt.asset_type, flt.updated_since)
    if flt.search is None or len(flt.search) < TRIGRAM or in_risk_cell(flt):
        return None
    return None if any(v is not None for v in others) else flt.search


def walk_in_order(search: str | None, total: int, all_assets: Callable[[], int]) -> bool:
    """Is a LIKE walk in the list's order cheaper than reading the index's matches?
    (DENSE_FACTOR; read here at each call, so a test may change it.)"""
    if search is None or len(search) < TRIGRAM:
        return True
    return total * total > DENSE_FACTOR * all_assets()


# The index a LIKE walk of `search` reads in id order (migration 0009).
SEARCH_WALK_INDEX = "assets_for_search_walk"


def _walks_search_index(flt: AssetFilter, column: str, dense: bool) -> bool:
    """A `search` walked with LIKE in the default order (`column` is the sort's), with nothing
    else filtering: it reads SEARCH_WALK_INDEX. Other filters have indexes of their own, and
    other sorts sort."""
    others = (flt.status, flt.asset_type, flt.updated_since)
    return (
        flt.search is not None
        and dense
        and column == "id"
        and not in_risk_cell(flt)
        and all(v is None for v in others)
    )


# Folds A-Z only, exactly as SQLite's lower() and LIKE do (they leave other letters alone).
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _matches(term: str, table: str = "assets") -> listing.Condition:
    """Assets whose ASCII-lowered tag_number or description contains the ASCII-lowered
    `term`: the rows `LIKE '%term%'` finds (SPEC §5 search), through the trigram index;
    as a condition on `assets`, or on the index itself."""
    phrase = '"' + term.translate(_ASCII_LOWER).replace('"', '""') + '"'
    if table == "asset_search":
        return listing.Condition("asset_search MATCH ?", (phrase,))
    return listing.Condition(
        "rowid IN (SELECT rowid FROM asset_search WHERE asset_search MATCH ?)", (phrase,)
    )


def _conditions(flt: AssetFilter, *, dense: bool = True) -> list[listing.Condition | None]:
    """The filter as SQL; `dense=False` finds `search` matches through the index."""
    search = flt.search
    if search is not None and len(search) >= TRIGRAM and not dense:
        matching: listing.Condition | None = _matches(search)
    else:
        matching = listing.contains_any(("tag_number", "description"), search)
    return [
        listing.equals("status", flt.status),
        listing.equals("asset_type", flt.asset_type),
        matching,
        listing.at_least("updated_at", flt.updated_since),
        _in_risk_cell(flt.probability, flt.consequence),
    ]


def _in_risk_cell(probability: int | None, consequence: int | None) -> listing.Condition | None:
    if probability is None or consequence is None:
        return None
    return listing.Condition(
        f"id IN (SELECT n.asset_id FROM ({NEWEST_ASSESSMENTS}) AS n"
        " WHERE n.probability_of_failure = ? AND n.consequence_of_failure = ?)",
        (probability, consequence),
    )


class SqliteAssets:
    """SQLite: assets of one tenant (SPEC §5 Assets)."""

    def __init__(self, conn: apsw.Connection) -> None:
        self._conn = conn

    def _counts(self, status: str | None, asset_type: str | None) -> int:
        """From the per-(status, type) counts the 0005 triggers maintain: at most 15 rows."""
        return int(
            scalar(
                self._conn,
                "SELECT COALESCE(SUM(n), 0) FROM asset_counts"
                " WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR asset_type = ?2)",
                (status, asset_type),
            )
        )

    def count_assets(self, flt: AssetFilter) -> int:
        """`meta.total`: from the maintained per-(status, type) counts when only those filter;
        a `search` alone counts its index matches (FTS5 counts them without reading rows);
        anything else is a COUNT. The last two are remembered for the snapshot."""
        if counted_by_cells(flt):
            return self._counts(flt.status, flt.asset_type)
        if (term := search_alone(flt)) is not None:
            return listing.count(self._conn, "asset_search", [_matches(term, "asset_search")])
        return listing.count(self._conn, "assets", _conditions(flt, dense=False))

    def _dense(self, flt: AssetFilter, total: int) -> bool:
        return walk_in_order(flt.search, total, lambda: self._counts(None, None))

    def get_asset(self, asset_id: str) -> Row | None:
        return self._conn.execute(_SELECT + " WHERE id = ?", (asset_id,)).fetchone()

    def list_assets(
        self,
        flt: AssetFilter,
        *,
        sort: str | None,
        limit: int,
        offset: int,
        after: str | None = None,
    ) -> Window:
        """A page of assets: each row's `json` (its representation) and the `id` and sort
        column that the `after` cursor of the next page is made of."""
        total = self.count_assets(flt)
        column, _ = listing.sort_column(sort, SORTABLE_COLUMNS)
        keys = "id" if column == "id" else f"id, {column}"
        dense = self._dense(flt, total)
        source = "assets"
        if _walks_search_index(flt, column, dense):
            source = f"assets INDEXED BY {SEARCH_WALK_INDEX}"
        return listing.fetch_window(
            self._conn,
            select=f"SELECT {keys}, {REPRESENTATION} AS json FROM {source}",
            table="assets",
            conditions=_conditions(flt, dense=dense),
            sort=sort,
            sortable=SORTABLE_COLUMNS,
            limit=limit,
            offset=offset,
            after=after,
            total=total,
        )

    def insert_asset(self, asset: Row) -> None:
        columns = ("id", *WRITABLE_COLUMNS, "created_at", "updated_at")
        try:
            self._conn.execute(
                f"INSERT INTO assets ({', '.join(columns)})"
                f" VALUES ({', '.join('?' * len(columns))})",
                [asset.get(c) for c in columns],
            )
        except apsw.ConstraintError as exc:
            # Another process (the CLI's import) inserted the same tag since the caller
            # checked; any other constraint is a bug, not a conflict, and stays one.
            if unique_failed(exc, "assets", "tag_number"):
                raise UniqueViolation("tag_number") from None
            raise

    def merge_search_index(self, pages: int) -> bool:
        # FTS5's 'merge' command: up to `pages` pages of merging, on levels holding at least
        # 'usermerge' (4) segments. It wrote something (2 or more changes, per the FTS5
        # documentation) when there was something to merge.
        before = self._conn.total_changes()
        self._conn.execute(
            "INSERT INTO asset_search (asset_search, rank) VALUES ('merge', ?)", (pages,)
        )
        return self._conn.total_changes() - before >= 2

    def insert_assets(self, assets: Sequence[Row]) -> list[Row]:
        """Many new assets, in the caller's transaction; their representations, in order.

        The per-row AFTER INSERT triggers that keep `asset_counts` and `asset_search` (0005)
        cost 93% of a bulk insert: 1.8 s of the 1.9 s for 10k assets, against 0.06 s for
        the rows and 0.1 s to do the same work once for all of them (bench/csv_import.py,
        issue 14). So they are dropped, the rows inserted, the counts and the index brought
        up to date set-wise, and the triggers created again from their own stored SQL, all
        inside this one transaction: DDL is transactional in SQLite, so no other connection
        ever sees the table without its triggers, and a rollback restores them.
        tests/test_csv_bulk.py checks that the result equals one `insert_asset` per row.
        """
        if not assets:
            return []
        columns = ("id", *WRITABLE_COLUMNS, "created_at", "updated_at")
        triggers = {
            row["name"]: row["sql"]
            for row in self._conn.execute(
                "SELECT name, sql FROM sqlite_schema WHERE type = 'trigger' AND name IN (?, ?)",
                _BULK_TRIGGERS,
            )
        }
        # Rowids only grow while we hold the write lock: every row above this one is new.
        before = int(scalar(self._conn, "SELECT COALESCE(MAX(rowid), 0) FROM assets"))
        # Room in the cache for every page the batch touches (about 3 KB an asset, with its
        # index entries and event), so that SQLite does not spill dirty pages to the WAL as
        # it goes and write them again when they change once more: 12-17% of the write of
        # 100k assets (bench/csv_import.py). The connection's own size comes back after.
        previous = int(scalar(self._conn, "PRAGMA cache_size"))
        self._conn.execute(f"PRAGMA cache_size = {-max(3 * len(assets), 2000)}")  # KiB
        try:
            return self._insert_assets(assets, columns, triggers, before)
        finally:
            self._conn.execute(f"PRAGMA cache_size = {previous}")

    def _insert_assets(
        self, assets: Sequence[Row], columns: tuple[str, ...], triggers: dict[str, str], before: int
    ) -> list[Row]:
        for name in triggers:
            self._conn.execute(f"DROP TRIGGER {name}")
        try:
            self._conn.executemany(
                f"INSERT INTO assets ({', '.join(columns)})"
                f" VALUES ({', '.join('?' * len(columns))})",
                [[asset.get(c) for c in columns] for asset in assets],
            )
        except apsw.ConstraintError as exc:
            if unique_failed(exc, "assets", "tag_number"):
                raise UniqueViolation("tag_number") from None
            raise
        if "asset_counts_insert" in triggers:
            self._conn.execute(
                "INSERT INTO asset_counts (status, asset_type, n)"
                " SELECT status, asset_type, COUNT(*) FROM assets WHERE rowid > ?"
                " GROUP BY status, asset_type"
                " ON CONFLICT (status, asset_type) DO UPDATE SET n = n + excluded.n",
                (before,),
            )
        if "asset_search_insert" in triggers:
            self._conn.execute(
                "INSERT INTO asset_search (rowid, tag_number, description)"
                " SELECT rowid, lower(tag_number), lower(description) FROM assets"
                " WHERE rowid > ?",
                (before,),
            )
        for sql in triggers.values():
            self._conn.execute(sql)
        # The representations are made here rather than read back (0.6 s of CPU for 100k,
        # and `RETURNING` made the insert five times slower): new rows have no computed
        # values yet, and a REAL column holds a float even when it was given an int.
        rows = []
        for asset in assets:
            row = {c: asset.get(c) for c in COLUMNS}
            for c in _REAL_COLUMNS:
                value = row[c]
                if isinstance(value, int):
                    row[c] = float(value)
            rows.append(row)
        return rows

    def update_asset(self, asset_id: str, changes: Row, updated_at: str) -> None:
        columns = [c for c in WRITABLE_COLUMNS if c in changes]
        assignments = ", ".join(f"{c} = ?" for c in columns)
        self._conn.execute(
            f"UPDATE assets SET {assignments}, updated_at = ? WHERE id = ?",
            [*(changes[c] for c in columns), updated_at, asset_id],
        )

    def tag_exists(self, tag_number: str, except_id: str | None = None) -> bool:
        row = self._conn.execute(
            "SELECT id FROM assets WHERE tag_number = ? AND id IS NOT ?", (tag_number, except_id)
        ).fetchone()
        return row is not None

    def count_all(self) -> int:
        return int(scalar(self._conn, "SELECT COUNT(*) FROM assets"))

    def existing_tags(self, tags: Sequence[str]) -> list[str]:
        # One statement for any number of tags (a bulk import checks 100k at once): the join
        # compares with the column's NOCASE collation and seeks its unique index.
        rows = self._conn.execute(
            "SELECT j.value AS tag FROM json_each(?) AS j"
            " JOIN assets AS a ON a.tag_number = j.value",
            (json.dumps(list(tags)),),
        )
        return [row["tag"] for row in rows]

    def each_asset(self) -> Iterator[Row]:
        yield from self._conn.execute(_SELECT + " ORDER BY id")
