"""THE list query builder: filters, sort and page for every resource's list.

Column names come only from each storage module's own constants (never from a request);
every value is a bound parameter.

Speed without ever a wrong answer (issue 7); see `snapshot.py` for the cache's rules:
- `meta.total` of a list seen before in the same snapshot of the file is not counted again;
- a deep `page` (offset ≥ `DEEP_OFFSET`) in the default order starts from an anchor, the
  position of every `ANCHOR_STRIDE`-th row, found by short hops and kept for the snapshot,
  so page 3000 costs about what page 1 does once the anchors are known;
- `after` is a keyset cursor: the rows that follow a given row in the list's order, found
  by an index seek whatever the depth.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import apsw

from reliatic_appliance.ports import BadCursor, Window
from reliatic_appliance.storage import snapshot
from reliatic_appliance.storage.sqlite import scalar

Row = dict[str, Any]

# Offsets below this are walked by SQLite directly: cheaper than any bookkeeping.
DEEP_OFFSET = 1000
# One anchor per this many rows: a deep page walks at most this many index entries.
ANCHOR_STRIDE = 256


@dataclass(frozen=True)
class Condition:
    sql: str
    params: tuple[Any, ...] = ()


def equals(column: str, value: Any) -> Condition | None:
    return None if value is None else Condition(f"{column} = ?", (value,))


def at_least(column: str, value: Any) -> Condition | None:
    return None if value is None else Condition(f"{column} >= ?", (value,))


def at_most(column: str, value: Any) -> Condition | None:
    return None if value is None else Condition(f"{column} <= ?", (value,))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def contains_any(columns: Sequence[str], text: str | None) -> Condition | None:
    """Case-insensitive substring of any of `columns`; LIKE wildcards in `text` are literal."""
    if text is None:
        return None
    pattern = f"%{_escape_like(text)}%"
    clause = " OR ".join(f"{c} LIKE ? ESCAPE '\\'" for c in columns)
    return Condition(f"({clause})", tuple(pattern for _ in columns))


def where(conditions: Iterable[Condition | None]) -> tuple[str, list[Any]]:
    present = [c for c in conditions if c is not None]
    if not present:
        return "", []
    params: list[Any] = []
    for condition in present:
        params.extend(condition.params)
    return " WHERE " + " AND ".join(c.sql for c in present), params


def sort_column(sort: str | None, sortable: frozenset[str]) -> tuple[str, bool]:
    """(column, descending); `id` for the default order."""
    if not sort:
        return "id", False
    column = sort.removeprefix("-")
    if column not in sortable:
        raise ValueError(f"not a sortable column: {column}")
    return column, sort.startswith("-")


def order_by(sort: str | None, sortable: frozenset[str]) -> str:
    """`sort` is `field` or `-field`; ties broken by id in the same direction (SPEC §3)."""
    column, descending = sort_column(sort, sortable)
    if column == "id":
        return "id"
    direction = "DESC" if descending else "ASC"
    return f"{column} {direction}, id {direction}"


# -- keyset cursors ------------------------------------------------------------------------


def encode_cursor(sort: str | None, row: Row, sortable: frozenset[str]) -> str:
    """The `after` value that continues a list after `row`.

    In the default order it is the row's id. With `sort` it also carries the row's sort
    value (and the sort it belongs to), so a row that changes between two calls cannot
    make the next page skip or repeat others.
    """
    column, _ = sort_column(sort, sortable)
    if column == "id":
        return str(row["id"])
    raw = json.dumps([sort, row[column], row["id"]], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(after: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(after + "=" * (-len(after) % 4)))
    except (binascii.Error, ValueError):
        return None


def cursor_position(
    conn: apsw.Connection, table: str, sort: str | None, after: str, sortable: frozenset[str]
) -> tuple[Any, Any]:
    """(sort value, id) of the row a cursor names; BadCursor when it names none.

    Besides the tokens `encode_cursor` makes, an item's plain id is accepted with any sort
    (its current sort value is read in the same snapshot): that is how a client that
    started with `page=1` takes its first step by cursor.
    """
    column, _ = sort_column(sort, sortable)
    if column == "id":
        return after, after
    decoded = _decode_token(after)
    if isinstance(decoded, list) and len(decoded) == 3:
        if (
            decoded[0] != sort
            or not isinstance(decoded[1], str | int | float | None)
            or isinstance(decoded[1], bool)
            or not isinstance(decoded[2], str | int)
        ):
            raise BadCursor("is a cursor of another sort; take it from this list's Link header")
        return decoded[1], decoded[2]
    row = conn.execute(f"SELECT {column} AS value, id FROM {table} WHERE id = ?", (after,))
    found = row.fetchone()
    if found is None:
        raise BadCursor("names no item of this list; start again from page 1")
    return found["value"], found["id"]


def _follows(column: str, descending: bool, value: Any, row_id: Any) -> Condition:
    """Rows strictly after (value, row_id) in `ORDER BY column, id` (SQLite puts NULLs
    first ascending and last descending)."""
    if column == "id":
        return Condition("id < ?" if descending else "id > ?", (row_id,))
    if not descending:
        if value is None:
            return Condition(f"({column} IS NOT NULL OR id > ?)", (row_id,))
        return Condition(f"({column} > ? OR ({column} = ? AND id > ?))", (value, value, row_id))
    if value is None:
        return Condition(f"({column} IS NULL AND id < ?)", (row_id,))
    return Condition(
        f"({column} < ? OR {column} IS NULL OR ({column} = ? AND id < ?))",
        (value, value, row_id),
    )


# -- counting ------------------------------------------------------------------------------


def count(conn: apsw.Connection, table: str, conditions: Iterable[Condition | None]) -> int:
    """COUNT(*) of the filtered table, remembered for the rest of the file's snapshot."""
    clause, params = where(conditions)
    sql = f"SELECT COUNT(*) FROM {table}{clause}"
    cache = snapshot.current(conn)
    key = (sql, tuple(params))
    if cache is not None:
        found = cache.counts.get(key)
        if found is not None:
            return found
    total = int(scalar(conn, sql, params))
    if cache is not None:
        cache.remember_count(key, total)
    return total


# -- pages ---------------------------------------------------------------------------------


def _rows(conn: apsw.Connection, sql: str, params: list[Any]) -> list[Row]:
    """The page's rows as dicts (the connection's row tracer names a statement's columns
    once, storage/sqlite.py), read to the end so no statement keeps its snapshot open."""
    return list(conn.execute(sql, params))


def _anchor_start(
    conn: apsw.Connection, table: str, clause: str, params: list[Any], offset: int
) -> tuple[Condition, int] | None:
    """Where a deep page in id order starts: (rows after the anchor, rows still to skip).

    None when the plan would sort in a temp B-tree (each hop would then cost a whole
    sort) or outside a cached snapshot (anchors would not outlive this call).
    """
    cache = snapshot.current(conn)
    if cache is None or not snapshot.ordered_by_index(conn, table, clause, params):
        return None
    positions, ids = cache.anchors_of((table, clause, tuple(params)))
    glue = " AND " if clause else " WHERE "
    while (not positions or positions[-1] + ANCHOR_STRIDE <= offset) and len(positions) < 100_000:
        after = [] if not positions else [ids[-1]]
        hop = f"SELECT id FROM {table}{clause}{glue + 'id > ?' if positions else ''}"
        row = conn.execute(
            f"{hop} ORDER BY id LIMIT 1 OFFSET ?", [*params, *after, ANCHOR_STRIDE - 1]
        ).fetchone()
        if row is None:
            break
        positions.append((positions[-1] if positions else 0) + ANCHOR_STRIDE)
        ids.append(row["id"])
    index = bisect.bisect_right(positions, offset) - 1
    if index < 0:
        return None
    return Condition("id > ?", (ids[index],)), offset - positions[index]


def fetch_window(
    conn: apsw.Connection,
    *,
    select: str,
    table: str,
    conditions: Iterable[Condition | None],
    sort: str | None,
    sortable: frozenset[str],
    limit: int,
    offset: int,
    after: str | None = None,
    total: int | None = None,
) -> Window:
    """One page of `select` (a `SELECT … FROM table`), the total matching rows (unless the
    caller knows it: `total`), and with `after` the cursor of the following page."""
    conditions = list(conditions)
    if total is None:
        total = count(conn, table, conditions)
    column, descending = sort_column(sort, sortable)
    extra: Condition | None = None
    if after is not None:
        extra = _follows(column, descending, *cursor_position(conn, table, sort, after, sortable))
    elif offset >= DEEP_OFFSET and column == "id" and not descending:
        clause, params = where(conditions)
        start = _anchor_start(conn, table, clause, params, offset)
        if start is not None:
            extra, offset = start
    clause, params = where([*conditions, extra])
    fetch = limit + 1 if after is not None else limit
    rows = _rows(
        conn,
        f"{select}{clause} ORDER BY {order_by(sort, sortable)} LIMIT ? OFFSET ?",
        [*params, fetch, offset],
    )
    next_after = None
    if after is not None and len(rows) > limit:
        rows = rows[:limit]
        next_after = encode_cursor(sort, rows[-1], sortable)
    return Window(rows=rows, total=total, next_after=next_after)


def fetch_page(
    conn: apsw.Connection,
    *,
    select: str,
    table: str,
    conditions: Iterable[Condition | None],
    sort: str | None,
    sortable: frozenset[str],
    limit: int,
    offset: int,
) -> tuple[list[Row], int]:
    """One page of `select` (a `SELECT … FROM table`) and the total matching rows."""
    window = fetch_window(
        conn,
        select=select,
        table=table,
        conditions=conditions,
        sort=sort,
        sortable=sortable,
        limit=limit,
        offset=offset,
    )
    return window.rows, window.total
