"""SQL for alerts (SPEC §5 Alerts, §7): raised by the scheduler, read by clients."""

from __future__ import annotations

import apsw

from reliatic_appliance.ports import ALERT_SORTABLE, AlertFilter, Row
from reliatic_appliance.storage import listing

_SELECT = (
    "SELECT id, kind, severity, resource_type, resource_id, level, message, created_at,"
    " updated_at FROM alerts"
)
SORTABLE_COLUMNS: frozenset[str] = frozenset(ALERT_SORTABLE)


def _conditions(flt: AlertFilter) -> list[listing.Condition | None]:
    return [
        listing.equals("kind", flt.kind),
        listing.equals("resource_type", flt.resource_type),
        listing.equals("resource_id", flt.resource_id),
        listing.at_least("updated_at", flt.updated_since),
    ]


class SqliteAlerts:
    """SQLite: SLA alerts of one tenant (SPEC §5 Alerts)."""

    def __init__(self, conn: apsw.Connection) -> None:
        self._conn = conn

    def get_alert(self, alert_id: str) -> Row | None:
        return self._conn.execute(_SELECT + " WHERE id = ?", (alert_id,)).fetchone()

    def list_alerts(
        self, flt: AlertFilter, *, sort: str | None, limit: int, offset: int
    ) -> tuple[list[Row], int]:
        return listing.fetch_page(
            self._conn,
            select=_SELECT,
            table="alerts",
            conditions=_conditions(flt),
            sort=sort,
            sortable=SORTABLE_COLUMNS,
            limit=limit,
            offset=offset,
        )

    def insert_alert(self, alert: Row) -> bool:
        """Insert once per (kind, resource, level); False when that alert already exists."""
        self._conn.execute(
            "INSERT INTO alerts (id, kind, severity, resource_type, resource_id, level, message,"
            " created_at, updated_at) VALUES (:id, :kind, :severity, :resource_type,"
            " :resource_id, :level, :message, :created_at, :created_at)"
            " ON CONFLICT (kind, resource_type, resource_id, level) DO NOTHING",
            alert,
        )
        return self._conn.changes() > 0
