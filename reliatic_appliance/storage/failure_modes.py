"""SQL for failure modes (FMEA). Every value is a bound parameter; only vetted columns spliced."""

from __future__ import annotations

import apsw

from reliatic_appliance.ports import FAILURE_MODE_SORTABLE, FailureModeFilter, Row
from reliatic_appliance.storage import listing

# Columns a client writes, in table order; `asset_id` is set once, at insert.
WRITABLE_COLUMNS: tuple[str, ...] = (
    "description",
    "severity",
    "occurrence",
    "detection",
    "failure_mechanism",
    "effect",
    "cause",
    "current_controls",
)
# Stored so lists can filter and sort on them (SPEC §6), recomputed on every write.
COMPUTED_COLUMNS: tuple[str, ...] = ("rpn", "priority", "action_priority")
SORTABLE_COLUMNS: frozenset[str] = frozenset(FAILURE_MODE_SORTABLE)
# Response field order: the scores, then what they compute, then the prose.
_SELECT = (
    "SELECT id, asset_id, description, severity, occurrence, detection, "
    + ", ".join(COMPUTED_COLUMNS)
    + ", failure_mechanism, effect, cause, current_controls, created_at, updated_at"
    " FROM failure_modes"
)


def _conditions(flt: FailureModeFilter) -> list[listing.Condition | None]:
    return [
        listing.equals("asset_id", flt.asset_id),
        listing.at_least("rpn", flt.rpn_min),
        listing.at_most("rpn", flt.rpn_max),
        listing.equals("priority", flt.priority),
        listing.equals("action_priority", flt.action_priority),
        listing.at_least("updated_at", flt.updated_since),
    ]


class SqliteFailureModes:
    """SQLite: FMEA failure modes of one tenant (SPEC §5)."""

    def __init__(self, conn: apsw.Connection) -> None:
        self._conn = conn

    def get_failure_mode(self, failure_mode_id: str) -> Row | None:
        return self._conn.execute(_SELECT + " WHERE id = ?", (failure_mode_id,)).fetchone()

    def list_failure_modes(
        self, flt: FailureModeFilter, *, sort: str | None, limit: int, offset: int
    ) -> tuple[list[Row], int]:
        return listing.fetch_page(
            self._conn,
            select=_SELECT,
            table="failure_modes",
            conditions=_conditions(flt),
            sort=sort,
            sortable=SORTABLE_COLUMNS,
            limit=limit,
            offset=offset,
        )

    def insert_failure_mode(self, row: Row) -> None:
        columns = (
            "id",
            "asset_id",
            *WRITABLE_COLUMNS,
            *COMPUTED_COLUMNS,
            "created_at",
            "updated_at",
        )
        self._conn.execute(
            f"INSERT INTO failure_modes ({', '.join(columns)})"
            f" VALUES ({', '.join('?' * len(columns))})",
            [row.get(c) for c in columns],
        )

    def update_failure_mode(self, failure_mode_id: str, changes: Row, updated_at: str) -> None:
        columns = [c for c in WRITABLE_COLUMNS + COMPUTED_COLUMNS if c in changes]
        assignments = "".join(f"{c} = ?, " for c in columns)
        self._conn.execute(
            f"UPDATE failure_modes SET {assignments}updated_at = ? WHERE id = ?",
            [*(changes[c] for c in columns), updated_at, failure_mode_id],
        )

    def delete_failure_mode(self, failure_mode_id: str, at: str) -> bool:
        """Hard delete; the actions that referred to it stay, detached (True if it existed).

        The foreign key's ON DELETE SET NULL would detach them too, but silently: clearing the
        reference here first also moves their `updated_at`, so an `updated_since` sync of
        actions (SPEC §3) sees that `failure_mode_id` became null.
        """
        self._conn.execute(
            "UPDATE actions SET failure_mode_id = NULL, updated_at = ? WHERE failure_mode_id = ?",
            (at, failure_mode_id),
        )
        self._conn.execute("DELETE FROM failure_modes WHERE id = ?", (failure_mode_id,))
        return self._conn.changes() > 0
