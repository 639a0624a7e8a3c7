"""THE list query builder on PostgreSQL: filters, sort, page, `after` cursor and total.

The twin of `storage/listing.py`, with the same names and the same answers, so a store's
list method ports by changing `?` to `%s` and passing `tenant_id`:

- every query it builds on a tenant table starts `WHERE tenant_id = %s` (`tenant_id=` is a
  required keyword: pass None only for a control table that has no such column). RLS would
  hide other tenants' rows anyway; the condition is what routes a Citus query to one shard
  and lets each `(tenant_id, …)` index be used.
- order is SQLite's: text compares byte-wise (columns and ids are `COLLATE "C"` in the
  schema), NULLs come first ascending and last descending (so an index meant to serve a
  sort declares its column `NULLS FIRST`), ties broken by id in the same direction.
  A field that SQLite sorts `COLLATE NOCASE` sorts here by another column, given in `keys`
  (`{"tag_number": SortKey("tag_key", fold)}`: a generated, folded copy with its index).
- `after` is a keyset cursor, made and read exactly as on SQLite (a token of the SQLite
  backend continues a list here after `reliatic storage copy`).

Under FORCE ROW LEVEL SECURITY a condition can use an index only if its operator and
functions are LEAKPROOF (otherwise PostgreSQL must check the policy on every row first):
`=`, `<`, `>=`, … on text, numbers, dates and instants are; `lower(col)`, `LIKE`, casts of a
column, jsonb and array operators are not, and such a condition is a filter over every row
of the tenant. So conditions compare plain columns with values prepared in Python (a
folded copy of a column where case must not matter), as `SortKey` does.

What SQLite's `snapshot.py` remembers is deliberately not carried over. It works because
`PRAGMA data_version` says, for the price of one call, that nothing was committed since a
count was taken; PostgreSQL has no such cheap, exact signal across transactions and nodes
(another node may commit at any time), and a cache that can be stale is not an option.
Instead, totals the lists need often are maintained in tables by triggers (`asset_counts`,
0002), anything else is a `COUNT(*)` over a `(tenant_id, …)` index; a deep `page` is a
plain OFFSET (an index walk) rather than SQLite's anchors, and clients that go deep are
pointed at `after` by the Link header, which seeks whatever the depth.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from reliatic_appliance.ports import BadCursor, Window
from reliatic_appliance.storage.listing import _decode_token, encode_cursor, sort_column

__all__ = [
    "FOLDED",
    "Condition",
    "Cursor",
    "Row",
    "SortKey",
    "at_least",
    "at_most",
    "contains_any",
    "count",
    "cursor_position",
    "encode_cursor",
    "equals",
    "fetch_page",
    "fetch_window",
    "fold",
    "like_pattern",
    "order_by",
    "sort_column",
    "tenant",
    "where",
]

Row = dict[str, Any]
Cursor = psycopg.Cursor[Row]

# SQLite's `COLLATE NOCASE` and `lower()`: A-Z folded, every other character left alone.
# (`lower()` under the database's own collation would fold É too; "C" keeps it ASCII-only.)
FOLDED = 'lower({} COLLATE "C")'
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def fold(text: Any) -> Any:
    """`text` as `FOLDED` makes it, in Python (anything else as it is)."""
    return text.translate(_ASCII_LOWER) if isinstance(text, str) else text


@dataclass(frozen=True)
class Condition:
    sql: str
    params: tuple[Any, ...] = ()


@dataclass(frozen=True)
class SortKey:
    """A sortable field that orders by another `column`, whose value for a row is
    `convert(the field's value)`: cursors still carry the field's own value."""

    column: str
    convert: Callable[[Any], Any]


Keys = Mapping[str, SortKey]


def tenant(tenant_id: str) -> Condition:
    return Condition("tenant_id = %s", (tenant_id,))


def equals(column: str, value: Any) -> Condition | None:
    return None if value is None else Condition(f"{column} = %s", (value,))


def at_least(column: str, value: Any) -> Condition | None:
    return None if value is None else Condition(f"{column} >= %s", (value,))


def at_most(column: str, value: Any) -> Condition | None:
    return None if value is None else Condition(f"{column} <= %s", (value,))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def like_pattern(text: str) -> str:
    """The LIKE pattern (escaped with \\) that finds `text`, folded, anywhere in a folded
    column (`asset_search_ids`, migration 0005, makes the same in SQL)."""
    return f"%{_escape_like(fold(text))}%"


def contains_any(columns: Sequence[str], text: str | None) -> Condition | None:
    """Case-insensitive substring of any of `columns`, as SQLite's LIKE finds it (A-Z fold
    only); LIKE wildcards in `text` are literal. No index serves it under RLS (LIKE is
    not LEAKPROOF, module doc): it filters the rows the other conditions leave."""
    if text is None:
        return None
    pattern = like_pattern(text)
    clause = " OR ".join(f"{FOLDED.format(c)} LIKE %s ESCAPE '\\'" for c in columns)
    return Condition(f"({clause})", tuple(pattern for _ in columns))


def where(conditions: Iterable[Condition | None]) -> tuple[str, list[Any]]:
    present = [c for c in conditions if c is not None]
    if not present:
        return "", []
    params: list[Any] = []
    for condition in present:
        params.extend(condition.params)
    return " WHERE " + " AND ".join(c.sql for c in present), params


def _scoped(
    tenant_id: str | None, conditions: Iterable[Condition | None]
) -> list[Condition | None]:
    return [tenant(tenant_id) if tenant_id is not None else None, *conditions]


def _key(column: str, keys: Keys | None) -> SortKey | None:
    return (keys or {}).get(column)


def order_by(sort: str | None, sortable: frozenset[str], keys: Keys | None = None) -> str:
    """`sort` is `field` or `-field`; ties broken by id in the same direction (SPEC §3),
    NULLs where SQLite puts them."""
    column, descending = sort_column(sort, sortable)
    if column == "id":
        return "id DESC" if descending else "id"
    key = _key(column, keys)
    expr = column if key is None else key.column
    if descending:
        return f"{expr} DESC NULLS LAST, id DESC"
    return f"{expr} ASC NULLS FIRST, id ASC"


# -- keyset cursors ------------------------------------------------------------------------


def cursor_position(
    cur: Cursor,
    table: str,
    sort: str | None,
    after: str,
    sortable: frozenset[str],
    *,
    tenant_id: str | None,
) -> tuple[Any, Any]:
    """(sort value, id) of the row a cursor names; BadCursor when it names none.

    As on SQLite: the tokens `encode_cursor` makes, or an item's plain id with any sort
    (its current sort value is read in the same snapshot).
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
    clause, params = where(_scoped(tenant_id, [Condition("id = %s", (after,))]))
    found = cur.execute(f"SELECT {column} AS value, id FROM {table}{clause}", params).fetchone()
    if found is None:
        raise BadCursor("names no item of this list; start again from page 1")
    return found["value"], found["id"]


def _follows(
    column: str,
    descending: bool,
    value: Any,
    row_id: Any,
    keys: Keys | None,
    not_null: frozenset[str] = frozenset(),
) -> Condition:
    """Rows strictly after (value, row_id) in the list's order (NULLs first ascending,
    last descending).

    An OR is no index condition, so where it is right a plain bound goes with it
    (`col >= value`): the index walk then starts at the cursor instead of the list's start.
    Descending, that bound would drop the NULLs that follow, unless the field is in
    `not_null` (a NOT NULL column).
    """
    if column == "id":
        return Condition("id < %s" if descending else "id > %s", (row_id,))
    field = column
    key = _key(column, keys)
    if key is not None:
        column = key.column
        value = None if value is None else key.convert(value)
    if not descending:
        if value is None:
            return Condition(f"({column} IS NOT NULL OR id > %s)", (row_id,))
        return Condition(
            f"({column} >= %s AND ({column} > %s OR ({column} = %s AND id > %s)))",
            (value, value, value, row_id),
        )
    if value is None:
        return Condition(f"({column} IS NULL AND id < %s)", (row_id,))
    if field in not_null:
        return Condition(
            f"({column} <= %s AND ({column} < %s OR ({column} = %s AND id < %s)))",
            (value, value, value, row_id),
        )
    return Condition(
        f"({column} < %s OR {column} IS NULL OR ({column} = %s AND id < %s))",
        (value, value, row_id),
    )


# -- counting and pages --------------------------------------------------------------------


def count(
    cur: Cursor, table: str, conditions: Iterable[Condition | None], *, tenant_id: str | None
) -> int:
    """COUNT(*) of the filtered table (of one tenant)."""
    clause, params = where(_scoped(tenant_id, conditions))
    row = cur.execute(f"SELECT COUNT(*) AS n FROM {table}{clause}", params).fetchone()
    return 0 if row is None else int(row["n"])


# From this offset on, a page reads the ids it skips from an index first (fetch_window).
DEFERRED_OFFSET = 1000


def fetch_window(
    cur: Cursor,
    *,
    select: str,
    table: str,
    tenant_id: str | None,
    conditions: Iterable[Condition | None],
    sort: str | None,
    sortable: frozenset[str],
    limit: int,
    offset: int,
    after: str | None = None,
    total: int | None = None,
    keys: Keys | None = None,
    not_null: frozenset[str] = frozenset(),
) -> Window:
    """One page of `select` (a `SELECT … FROM table`, no WHERE), the total matching rows
    (unless the caller knows it: `total`), and with `after` the cursor of the next page.
    `not_null`: sortable fields that are NOT NULL columns (a descending cursor seeks)."""
    conditions = _scoped(tenant_id, conditions)
    if total is None:
        total = count(cur, table, conditions, tenant_id=None)
    column, descending = sort_column(sort, sortable)
    extra: Condition | None = None
    if after is not None:
        position = cursor_position(cur, table, sort, after, sortable, tenant_id=tenant_id)
        extra = _follows(column, descending, *position, keys, not_null)
    clause, params = where([*conditions, extra])
    fetch = limit + 1 if after is not None else limit
    order = order_by(sort, sortable, keys)
    page = f"{clause} ORDER BY {order} LIMIT %s OFFSET %s"
    if offset >= DEFERRED_OFFSET:
        # A deep page: the skipped rows are counted in an index (ids and the sort column
        # only: an index-only scan, once VACUUM has set the visibility map), and only the
        # page's own rows are read whole. `make bench` row "list, page=3000".
        ids = Condition(f"id IN (SELECT id FROM {table}{page})", (*params, fetch, offset))
        clause, params = where(_scoped(tenant_id, [ids]))
        sql_text, args = f"{select}{clause} ORDER BY {order}", params
    else:
        sql_text, args = f"{select}{page}", [*params, fetch, offset]
    try:
        rows = cur.execute(sql_text, args).fetchall()
    except (psycopg.errors.DataError, psycopg.errors.UndefinedFunction):
        # SQLite compares any value with any column; PostgreSQL refuses a token's value
        # that is not of the column's type (a date that is no date, a number for text).
        # Only a token can bring one here (filters are validated): it is not this list's.
        if extra is None:
            raise
        raise BadCursor("is not a cursor of this list; take it from its Link header") from None
    next_after = None
    if after is not None and len(rows) > limit:
        rows = rows[:limit]
        next_after = encode_cursor(sort, rows[-1], sortable)
    return Window(rows=rows, total=total, next_after=next_after)


def fetch_page(
    cur: Cursor,
    *,
    select: str,
    table: str,
    tenant_id: str | None,
    conditions: Iterable[Condition | None],
    sort: str | None,
    sortable: frozenset[str],
    limit: int,
    offset: int,
    keys: Keys | None = None,
) -> tuple[list[Row], int]:
    """One page of `select` (a `SELECT … FROM table`, no WHERE) and the total matching rows."""
    window = fetch_window(
        cur,
        select=select,
        table=table,
        tenant_id=tenant_id,
        conditions=conditions,
        sort=sort,
        sortable=sortable,
        limit=limit,
        offset=offset,
        keys=keys,
    )
    return window.rows, window.total
