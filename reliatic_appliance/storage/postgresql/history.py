"""PostgreSQL: status histories of actions and MOCs (SPEC §5), the port of `storage/history.py`.

`action_history` and `moc_history` have the same shape, so the SQL is written once and
parameterised by a `HistoryTable`; only the two instances below exist, and their names are
the only identifiers this module ever splices into a statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reliatic_appliance.ports import HistoryKind, Row
from reliatic_appliance.storage.postgresql.listing import Cursor


@dataclass(frozen=True)
class HistoryTable:
    table: str
    owner_column: str


_TABLES: dict[HistoryKind, HistoryTable] = {
    "action": HistoryTable("action_history", "action_id"),
    "moc": HistoryTable("moc_history", "moc_id"),
}


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


class PgHistory:
    """PostgreSQL: status histories of actions and MOCs (SPEC §5)."""

    def __init__(self, cur: Cursor, tenant_id: str) -> None:
        self._cur = cur
        self._tenant_id = tenant_id

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
        h = _TABLES[history]
        self._cur.execute(
            f"INSERT INTO {h.table}"
            f' (tenant_id, {h.owner_column}, from_status, to_status, comment, at, "by")'
            " VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (self._tenant_id, owner_id, from_status, to_status, comment, at, by),
        )

    def for_owner(self, history: HistoryKind, owner_id: str) -> list[Row]:
        """One record's history, oldest first (insertion order: the identity column, which
        increases in commit order within a tenant since its writes are serialised)."""
        h = _TABLES[history]
        rows = self._cur.execute(
            _select(h) + f" WHERE tenant_id = %s AND {h.owner_column} = %s ORDER BY id",
            (self._tenant_id, owner_id),
        ).fetchall()
        return [_entry(row) for row in rows]

    def for_owners(self, history: HistoryKind, owner_ids: Sequence[str]) -> dict[str, list[Row]]:
        """The histories of a page of records in one query (no query per record)."""
        h = _TABLES[history]
        found: dict[str, list[Row]] = {owner_id: [] for owner_id in owner_ids}
        if not owner_ids:
            return found
        rows = self._cur.execute(
            _select(h) + f" WHERE tenant_id = %s AND {h.owner_column} = ANY(%s)"
            f" ORDER BY {h.owner_column}, id",
            (self._tenant_id, list(owner_ids)),
        ).fetchall()
        for row in rows:
            found[row["owner"]].append(_entry(row))
        return found
