"""Alerts (SPEC §5 Alerts): read side. The scheduler raises them (SPEC §7)."""

from __future__ import annotations

from typing import Any

from reliatic_appliance.errors import NotFound
from reliatic_appliance.ids import new_id
from reliatic_appliance.ports import AlertFilter, TenantDb, TenantTx
from reliatic_appliance.services.events import emit
from reliatic_appliance.services.paging import Page, PageRequest, read_page


async def list_alerts(db: TenantDb, flt: AlertFilter, sort: str | None, page: PageRequest) -> Page:
    return await read_page(
        db,
        lambda tx, limit, offset: tx.alerts.list_alerts(flt, sort=sort, limit=limit, offset=offset),
        page,
    )


def load_alert(tx: TenantTx, alert_id: str) -> dict[str, Any]:
    """The representation a GET returns, inside the caller's transaction; 404 if none."""
    row = tx.alerts.get_alert(alert_id)
    if row is None:
        raise NotFound(f"Alert {alert_id} not found.")
    return row


async def get_alert(db: TenantDb, alert_id: str) -> dict[str, Any]:
    return await db.read(lambda tx: load_alert(tx, alert_id))


def raise_alert(
    tx: TenantTx,
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
    if not tx.alerts.insert_alert(alert):
        existing = tx.sla.refresh_alert(alert) if reraise else None
        if existing is None:
            return None
        alert_id = existing
    row = tx.alerts.get_alert(alert_id)
    emit(
        tx,
        event_type="alert.escalated",
        resource_type="alert",
        resource_id=alert_id,
        before=None,
        after=row,
        actor=actor,
        at=at,
    )
    return row
