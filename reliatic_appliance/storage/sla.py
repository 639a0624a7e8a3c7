"""SQL behind SLA escalation (SPEC §7): overdue actions and the level already raised."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import apsw

Row = dict[str, Any]


def overdue_actions(
    conn: apsw.Connection, *, today: str, open_statuses: Sequence[str], limit: int
) -> list[Row]:
    """Open actions past their due date, with the escalation level already raised."""
    marks = ", ".join("?" for _ in open_statuses)
    return list(
        conn.execute(
            "SELECT id, title, priority, status, asset_id, assignee_id, due_date,"
            " escalation_level FROM actions"
            f" WHERE due_date < ? AND status IN ({marks}) ORDER BY due_date, id LIMIT ?",
            [today, *open_statuses, limit],
        )
    )


def set_escalation_level(conn: apsw.Connection, action_id: str, level: int) -> bool:
    """Raise the stored level; False if another writer already raised it this far."""
    conn.execute(
        "UPDATE actions SET escalation_level = ? WHERE id = ? AND escalation_level < ?",
        (level, action_id, level),
    )
    return conn.changes() > 0
