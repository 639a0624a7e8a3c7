"""SQL for status history (SPEC §5: the `history` of actions and MOCs).

`action_history` and `moc_history` have the same shape, so the SQL is written once and
parameterised by a `HistoryTable`; only the two instances below exist, and their names are
the only identifiers this module ever splices into a statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import apsw

Row = dict[str, Any]


@dataclass(frozen=True)
class HistoryTable:
    table: str
    owner_column: str


ACTION_HISTORY = HistoryTable("action_history", "action_id")
MOC_HISTORY = HistoryTable("moc_history", "moc_id")
_TABLES: frozenset[HistoryTable] = frozenset({ACTION_HISTORY, MOC_HISTORY})


def _checked(history: HistoryTable) -> HistoryTable:
    if history not in _TABLES:
        raise ValueError(f"not a history table: {history.table}")
    return history


def _select(history: HistoryTable) -> str:
    # Aliased to the API's names: `{"from", "to", "comment", "at", "by"}` (SPEC §5).
    return (
        f'SELECT {history.owner_column} AS owner, from_status AS "from", to_status AS "to",'
        f' comment, at, "by" FROM {history.table}'
    )


def append(
    conn: apsw.Connection,
    history: HistoryTable,
    owner_id: str,
    *,
    from_status: str | None,
    to_status: str,
    comment: str | None,
    at: str,
    by: str | None,
) -> None:
    h = _checked(history)
    conn.execute(
        f'INSERT INTO {h.table} ({h.owner_column}, from_status, to_status, comment, at, "by")'
        " VALUES (?, ?, ?, ?, ?, ?)",
        (owner_id, from_status, to_status, comment, at, by),
    )


def _entry(row: Row) -> Row:
    return {
        "from": row["from"],
        "to": row["to"],
        "comment": row["comment"],
        "at": row["at"],
        "by": row["by"],
    }


def for_owner(conn: apsw.Connection, history: HistoryTable, owner_id: str) -> list[Row]:
    """One record's history, oldest first (insertion order: the autoincrement id)."""
    h = _checked(history)
    rows = conn.execute(_select(h) + f" WHERE {h.owner_column} = ? ORDER BY id", (owner_id,))
    return [_entry(row) for row in rows]


def for_owners(
    conn: apsw.Connection, history: HistoryTable, owner_ids: Sequence[str]
) -> dict[str, list[Row]]:
    """The histories of a page of records in one query (no query per record)."""
    h = _checked(history)
    found: dict[str, list[Row]] = {owner_id: [] for owner_id in owner_ids}
    if not owner_ids:
        return found
    # A page holds at most 100 ids, far below SQLite's limit on bound parameters.
    marks = ", ".join("?" * len(owner_ids))
    rows = conn.execute(
        _select(h) + f" WHERE {h.owner_column} IN ({marks}) ORDER BY {h.owner_column}, id",
        list(owner_ids),
    )
    for row in rows:
        found[row["owner"]].append(_entry(row))
    return found
