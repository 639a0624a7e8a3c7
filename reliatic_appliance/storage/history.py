"""SQL for status history (SPEC §5: the `history` of actions and MOCs).

`action_history` and `moc_history` have the same shape, so the SQL is written once and
parameterised by a `HistoryTable`; only the two instances below exist, and their names are
the only identifiers this module ever splices into a statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import apsw

from reliatic_appliance.ports import HistoryKind, Row


@dataclass(frozen=True)
class HistoryTable:
    table: str
    owner_column: str


_TABLES: dict[HistoryKind, HistoryTable] = {
    "action": HistoryTable("action_history", "action_id"),
    "moc": HistoryTable("moc_history", "moc_id"),
}


def _checked(kind: HistoryKind) -> HistoryTable:
    return _TABLES[kind]


def _select(history: HistoryTable) -> str:
    # Aliased to the API's names: `{"from", "to", "comment", "at", "by"}` (SPEC §5).
    return (
        f'SELECT {history.owner_column} AS owner, from_status AS "from", to_status AS "to",'
        f' comment, at, "by" FROM {history.table}'
    )


def _entry(row: Row) -> Row:
    return {
        "from": row["from"],
        "to": row["to"],
        "comment": row["comment"],
        "at": row["at"],
        "by": row["by"],
    }


class SqliteHistory:
    """SQLite: status histories of actions and MOCs (SPEC §5)."""

    def __init__(self, conn: apsw.Connection) -> None:
        self._conn = conn

    def append(
        self,
        history: HistoryKind,
        owner_id: str,
        *,
        from_status: str | None,
        to_status: str,
        comment: str | None,
        at: str,
        by: str | None,
    ) -> None:
        h = _checked(history)
        self._conn.execute(
            f'INSERT INTO {h.table} ({h.owner_column}, from_status, to_status, comment, at, "by")'
            " VALUES (?, ?, ?, ?, ?, ?)",
            (owner_id, from_status, to_status, comment, at, by),
        )

    def for_owner(self, history: HistoryKind, owner_id: str) -> list[Row]:
        """One record's history, oldest first (insertion order: the autoincrement id)."""
        h = _checked(history)
        rows = self._conn.execute(
            _select(h) + f" WHERE {h.owner_column} = ? ORDER BY id", (owner_id,)
        )
        return [_entry(row) for row in rows]

    def for_owners(self, history: HistoryKind, owner_ids: Sequence[str]) -> dict[str, list[Row]]:
        """The histories of a page of records in one query (no query per record)."""
        h = _checked(history)
        found: dict[str, list[Row]] = {owner_id: [] for owner_id in owner_ids}
        if not owner_ids:
            return found
        # A page holds at most 100 ids, far below SQLite's limit on bound parameters.
        marks = ", ".join("?" * len(owner_ids))
        rows = self._conn.execute(
            _select(h) + f" WHERE {h.owner_column} IN ({marks}) ORDER BY {h.owner_column}, id",
            list(owner_ids),
        )
        for row in rows:
            found[row["owner"]].append(_entry(row))
        return found
