"""PostgreSQL: what SLA escalation reads and writes (SPEC §7), the port of `storage/sla.py`.

Each level is raised once, with any number of nodes: `services.alerts.escalate_overdue_actions`
reads the owed actions, raises their alerts and stores their new `escalation_level` inside
ONE `db.write`, and every PostgreSQL write transaction first takes the tenant's
`pg_advisory_xact_lock` (database.py) and runs at READ COMMITTED, so each of its statements
sees what an earlier writer committed. A second node's pass therefore starts only after the
first has committed, and `actions_owed_escalation` no longer returns the actions it raised.
That is what guarantees it, not the `alerts` unique key: a reworked action is re-raised on
purpose (`refresh_alert`), so without the lock two passes could both emit `alert.escalated`
for one level. (Under REPEATABLE READ the snapshot would be taken by the transaction's first
statement, before the lock is granted, and this reasoning would not hold.)
"""

from __future__ import annotations

from collections.abc import Sequence

from reliatic_appliance.ports import Row
from reliatic_appliance.storage.postgresql.listing import Cursor


class PgSla:
    """PostgreSQL: the SLA escalation's queries (SPEC §7)."""

    def __init__(self, cur: Cursor, tenant_id: str) -> None:
        self._cur = cur
        self._tenant_id = tenant_id

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
        owed = " OR ".join("(escalation_level < %s AND due_date < %s)" for _ in cutoffs)
        levels = [value for level, cutoff in enumerate(cutoffs, 1) for value in (level, cutoff)]
        return self._cur.execute(
            "SELECT id, title, priority, status, asset_id, assignee_id, due_date,"
            " escalation_level FROM actions"
            f" WHERE tenant_id = %s AND due_date < %s AND status = ANY(%s) AND ({owed})"
            " ORDER BY due_date, id LIMIT %s",
            [self._tenant_id, cutoffs[0], list(open_statuses), *levels, limit],
        ).fetchall()

    def set_escalation_level(self, action_id: str, level: int) -> bool:
        """Raise the stored level; False if another writer already raised it this far."""
        self._cur.execute(
            "UPDATE actions SET escalation_level = %s"
            " WHERE tenant_id = %s AND id = %s AND escalation_level < %s",
            (level, self._tenant_id, action_id, level),
        )
        return self._cur.rowcount > 0

    def refresh_alert(self, alert: Row) -> str | None:
        """Bring the alert of this (kind, resource, level) up to date; its id, or None if none.

        For a level raised again: a reworked action starts its levels over (SPEC §7), while
        the alert list keeps one alert per (kind, resource, level).
        """
        row = self._cur.execute(
            "UPDATE alerts SET severity = %(severity)s, message = %(message)s,"
            " updated_at = %(created_at)s"
            " WHERE tenant_id = %(tenant_id)s AND kind = %(kind)s"
            " AND resource_type = %(resource_type)s AND resource_id = %(resource_id)s"
            " AND level = %(level)s RETURNING id",
            {**alert, "tenant_id": self._tenant_id},
        ).fetchone()
        return None if row is None else str(row["id"])
