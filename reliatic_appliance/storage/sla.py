"""SQL behind SLA escalation (SPEC §7): overdue actions and the level already raised."""

from __future__ import annotations

from collections.abc import Sequence

import apsw

from reliatic_appliance.ports import Row


class SqliteSla:
    """SQLite: what the SLA escalation reads and writes (SPEC §7)."""

    def __init__(self, conn: apsw.Connection) -> None:
        self._conn = conn

    def actions_owed_escalation(
        self, *, cutoffs: Sequence[str], open_statuses: Sequence[str], limit: int
    ) -> list[Row]:
        """Open actions owed a level they have not had yet, oldest due first.

        Level k is owed once `due_date < cutoffs[k-1]` while `escalation_level < k`. Filtering
        on that here (not just "overdue") matters: actions already at their highest level stay
        overdue for ever, and would otherwise fill every batch and starve newly overdue ones.
        """
        if not cutoffs:
            return []
        owed = " OR ".join("(escalation_level < ? AND due_date < ?)" for _ in cutoffs)
        levels = [value for level, cutoff in enumerate(cutoffs, 1) for value in (level, cutoff)]
        marks = ", ".join("?" for _ in open_statuses)
        return list(
            self._conn.execute(
                "SELECT id, title, priority, status, asset_id, assignee_id, due_date,"
                " escalation_level FROM actions"
                f" WHERE due_date < ? AND status IN ({marks}) AND ({owed})"
                " ORDER BY due_date, id LIMIT ?",
                [cutoffs[0], *open_statuses, *levels, limit],
            )
        )

    def set_escalation_level(self, action_id: str, level: int) -> bool:
        """Raise the stored level; False if another writer already raised it this far."""
        self._conn.execute(
            "UPDATE actions SET escalation_level = ? WHERE id = ? AND escalation_level < ?",
            (level, action_id, level),
        )
        return self._conn.changes() > 0

    def refresh_alert(self, alert: Row) -> str | None:
        """Bring the alert of this (kind, resource, level) up to date; its id, or None if none.

        For a level raised again: a reworked action starts its levels over (SPEC §7), while
        the alert list keeps one alert per (kind, resource, level).
        """
        row = self._conn.execute(
            "UPDATE alerts SET severity = :severity, message = :message, updated_at = :created_at"
            " WHERE kind = :kind AND resource_type = :resource_type"
            " AND resource_id = :resource_id AND level = :level RETURNING id",
            alert,
        ).fetchone()
        return None if row is None else str(row["id"])
