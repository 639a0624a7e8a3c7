"""Alerts (SPEC §5 Alerts): read side. The scheduler raises them (SPEC §7)."""

from __future__ import annotations

from typing import Any

import apsw

from reliatic_appliance.errors import NotFound
from reliatic_appliance.services.paging import Page, PageRequest
from reliatic_appliance.storage import alerts as store
from reliatic_appliance.storage.sqlite import Database

AlertFilter = store.AlertFilter


def list_alerts(db: Database, flt: AlertFilter, sort: str | None, page: PageRequest) -> Page:
    def read(conn: apsw.Connection) -> Page:
        items, total = store.list_alerts(
            conn, flt, sort=sort, limit=page.per_page, offset=page.offset
        )
        return Page(items=items, total=total, request=page)

    return db.read(read)


def get_alert(db: Database, alert_id: str) -> dict[str, Any]:
    row = db.read(lambda conn: store.get_alert(conn, alert_id))
    if row is None:
        raise NotFound(f"Alert {alert_id} not found.")
    return row
