"""PostgreSQL: alerts (SPEC §5 Alerts, §7), the port of `storage/alerts.py`: raised by the
scheduler and by webhook auto-disable, read by clients."""

from __future__ import annotations

from reliatic_appliance.ports import AlertFilter, Row
from reliatic_appliance.storage.alerts import SORTABLE_COLUMNS
from reliatic_appliance.storage.postgresql import listing
from reliatic_appliance.storage.postgresql.listing import Cursor

_SELECT = (
    "SELECT id, kind, severity, resource_type, resource_id, level, message, created_at,"
    " updated_at FROM alerts"
)


def _conditions(flt: AlertFilter) -> list[listing.Condition | None]:
    return [
        listing.equals("kind", flt.kind),
        listing.equals("resource_type", flt.resource_type),
        listing.equals("resource_id", flt.resource_id),
        listing.at_least("updated_at", flt.updated_since),
    ]


class PgAlerts:
    """PostgreSQL: alerts of one tenant (SPEC §5 Alerts)."""

    def __init__(self, cur: Cursor, tenant_id: str) -> None:
        self._cur = cur
        self._tenant_id = tenant_id

    def get_alert(self, alert_id: str) -> Row | None:
        return self._cur.execute(
            _SELECT + " WHERE tenant_id = %s AND id = %s", (self._tenant_id, alert_id)
        ).fetchone()

    def list_alerts(
        self, flt: AlertFilter, *, sort: str | None, limit: int, offset: int
    ) -> tuple[list[Row], int]:
        return listing.fetch_page(
            self._cur,
            select=_SELECT,
            table="alerts",
            tenant_id=self._tenant_id,
            conditions=_conditions(flt),
            sort=sort,
            sortable=SORTABLE_COLUMNS,
            limit=limit,
            offset=offset,
        )

    def insert_alert(self, alert: Row) -> bool:
        """Insert once per (kind, resource, level); False when that alert already exists."""
        self._cur.execute(
            "INSERT INTO alerts (tenant_id, id, kind, severity, resource_type, resource_id,"
            " level, message, created_at, updated_at) VALUES (%(tenant_id)s, %(id)s, %(kind)s,"
            " %(severity)s, %(resource_type)s, %(resource_id)s, %(level)s, %(message)s,"
            " %(created_at)s, %(created_at)s)"
            " ON CONFLICT (tenant_id, kind, resource_type, resource_id, level) DO NOTHING",
            {**alert, "tenant_id": self._tenant_id},
        )
        return self._cur.rowcount > 0
