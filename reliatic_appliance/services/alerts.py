"""Alerts (SPEC §5 Alerts): the read side, and how they are raised (SPEC §7): one per SLA
level an overdue action passes (the scheduler's housekeeping), and one when a webhook
subscription is disabled (services/deliveries.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from reliatic_appliance.domain.lifecycle import OPEN_ACTION_STATUSES
from reliatic_appliance.domain.sla import escalation_level, level_cutoffs
from reliatic_appliance.errors import NotFound
from reliatic_appliance.ids import new_id
from reliatic_appliance.ports import AlertFilter, Row, TenantDb, TenantTx
from reliatic_appliance.services.events import emit
from reliatic_appliance.services.paging import Page, PageRequest, read_page
from reliatic_appliance.timefmt import format_ts

# Actions escalated per write, and writes per tenant per pass (the rest wait a pass). Each
# write holds the writer, and every request's write waits behind it: one write of 500
# actions (1,000-1,500 alerts with their events) held it 85-550 ms, so a pass is ten
# writes of 50 that requests' writes take turns with (bench/write_stalls.py).
ESCALATION_BATCH = 50
ESCALATION_WRITES = 10


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


async def escalate_overdue_actions(
    db: TenantDb, *, now: datetime, levels_days: Sequence[int]
) -> int:
    """Raise one alert (and one `alert.escalated`) per level an open action has passed.

    "Once per level" is kept by the action's stored `escalation_level`, raised in the same
    transaction as the alerts, so two passes (or two schedulers) cannot both raise a level.
    Escalated actions are no longer owed, so each write takes the next ones.
    """
    today = now.date()
    at = format_ts(now)
    cutoffs = level_cutoffs(today, levels_days)

    def write(tx: TenantTx) -> tuple[int, bool]:
        """This batch's alerts raised, and whether the batch was full (more may be owed)."""
        raised = 0
        owed = tx.sla.actions_owed_escalation(
            cutoffs=cutoffs, open_statuses=OPEN_ACTION_STATUSES, limit=ESCALATION_BATCH
        )
        for action in owed:
            target = escalation_level(
                datetime.fromisoformat(action["due_date"]).date(), today, levels_days
            )
            for level in range(action["escalation_level"] + 1, target + 1):
                raised += _escalate(tx, action, level, today=today, at=at) is not None
            if target > action["escalation_level"]:
                tx.sla.set_escalation_level(action["id"], target)
        return raised, len(owed) == ESCALATION_BATCH

    total = 0
    for _ in range(ESCALATION_WRITES):
        raised, more = await db.write(write)
        total += raised
        if not more:
            break
    return total


def _escalate(tx: TenantTx, action: Row, level: int, *, today: date, at: str) -> Row | None:
    overdue_days = (today - datetime.fromisoformat(action["due_date"]).date()).days
    return raise_alert(
        tx,
        kind="sla_escalation",
        severity="critical" if level > 1 else "warning",
        resource_type="action",
        resource_id=action["id"],
        level=level,
        message=(
            f"Action '{action['title']}' ({action['priority']}) is {overdue_days}"
            f" day(s) past its due date {action['due_date']}: escalation level {level}."
        ),
        at=at,
        actor="scheduler",
        # Below the stored level yet already alerted: reworked, due again.
        reraise=True,
    )
