"""Alerts (SPEC §5 Alerts): read side. The scheduler raises them (SPEC §7)."""

from __future__ import annotations

from functools import partial
from typing import Any

import apsw

from reliatic_appliance.errors import NotFound
from reliatic_appliance.ids import new_id
from reliatic_appliance.services.events import emit
from reliatic_appliance.services.paging import Page, PageRequest, read_page
from reliatic_appliance.storage import alerts as store
from reliatic_appliance.storage import sla as sla_store
from reliatic_appliance.storage.sqlite import Database

AlertFilter = store.AlertFilter


def list_alerts(db: Database, flt: AlertFilter, sort: str | None, page: PageRequest) -> Page:
    return read_page(
        db,
        partial(store.list_alerts, flt=flt, sort=sort),
        page,
    )


def get_alert(db: Database, alert_id: str) -> dict[str, Any]:
    row = db.read(lambda conn: store.get_alert(conn, alert_id))
    if row is None:
        raise NotFound(f"Alert {alert_id} not found.")
    return row


def raise_alert(
    conn: apsw.Connection,
    *,
    kind: str,
    severity: str,
    resource_type: str,
    resource_id: str,
    level: int | None,
    message: str,
    at: str,
    actor: str | None = None,
    reraise: bool = False,
) -> dict[str, Any] | None:
    """Record an alert once and emit `alert.escalated` with it, in the caller's transaction.

    Returns the alert, or None when this (kind, resource, level) was already raised. With
    `reraise`, the caller has decided it is due again (a reworked action's SLA levels start
    over, SPEC §7): the existing alert is brought up to date and the event emitted again.
    """
    alert_id = new_id("alr")
    alert: dict[str, Any] = {
        "id": alert_id,
        "kind": kind,
        "severity": severity,
        "resource_type": resource_type,
        "resource_id": resource_id,
        "level": level,
        "message": message,
        "created_at": at,
    }
    if not store.insert_alert(conn, alert):
        existing = sla_store.refresh_alert(conn, alert) if reraise else None
        if existing is None:
            return None
        alert_id = existing
    row = store.get_alert(conn, alert_id)
    emit(
        conn,
        event_type="alert.escalated",
        resource_type="alert",
        resource_id=alert_id,
        before=None,
        after=row,
        actor=actor,
        at=at,
    )
    return row
