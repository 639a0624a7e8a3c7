"""SQL for alerts (SPEC §5 Alerts, §7): raised by the scheduler, read by clients."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import apsw

from reliatic_appliance.storage import listing

Row = dict[str, Any]

_SELECT = (
    "SELECT id, kind, severity, resource_type, resource_id, level, message, created_at,"
    " updated_at FROM alerts"
)
SORTABLE_COLUMNS = frozenset({"created_at", "updated_at", "level"})


@dataclass(frozen=True)
class AlertFilter:
    kind: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    updated_since: str | None = None

    def conditions(self) -> list[listing.Condition | None]:
        return [
            listing.equals("kind", self.kind),
            listing.equals("resource_type", self.resource_type),
            listing.equals("resource_id", self.resource_id),
            listing.at_least("updated_at", self.updated_since),
        ]


def get_alert(conn: apsw.Connection, alert_id: str) -> Row | None:
    return conn.execute(_SELECT + " WHERE id = ?", (alert_id,)).fetchone()


def list_alerts(
    conn: apsw.Connection, flt: AlertFilter, *, sort: str | None, limit: int, offset: int
) -> tuple[list[Row], int]:
    return listing.fetch_page(
        conn,
        select=_SELECT,
        table="alerts",
        conditions=flt.conditions(),
        sort=sort,
        sortable=SORTABLE_COLUMNS,
        limit=limit,
        offset=offset,
    )


def insert_alert(conn: apsw.Connection, alert: Row) -> bool:
    """Insert once per (kind, resource, level); False when that alert already exists."""
    conn.execute(
        "INSERT INTO alerts (id, kind, severity, resource_type, resource_id, level, message,"
        " created_at, updated_at) VALUES (:id, :kind, :severity, :resource_type,"
        " :resource_id, :level, :message, :created_at, :created_at)"
        " ON CONFLICT (kind, resource_type, resource_id, level) DO NOTHING",
        alert,
    )
    return conn.changes() > 0
