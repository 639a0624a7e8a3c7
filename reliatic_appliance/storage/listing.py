"""THE list query builder: filters, sort and page for every resource's list.

Column names come only from each storage module's own constants (never from a request);
every value is a bound parameter.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import apsw

from reliatic_appliance.storage.sqlite import scalar

Row = dict[str, Any]


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


def order_by(sort: str | None, sortable: frozenset[str]) -> str:
    """`sort` is `field` or `-field`; ties broken by id in the same direction (SPEC §3)."""
    if not sort:
        return "id"
    column = sort.removeprefix("-")
    if column not in sortable:
        raise ValueError(f"not a sortable column: {column}")
    direction = "DESC" if sort.startswith("-") else "ASC"
    return f"{column} {direction}, id {direction}"


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
    clause, params = where(conditions)
    total = int(scalar(conn, f"SELECT COUNT(*) FROM {table}{clause}", params))
    rows = list(
        conn.execute(
            f"{select}{clause} ORDER BY {order_by(sort, sortable)} LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
    )
    return rows, total
