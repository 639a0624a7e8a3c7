"""Periodic jobs of the scheduler: SLA escalation and log retention (SPEC §7)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from reliatic_appliance.domain.lifecycle import OPEN_ACTION_STATUSES
from reliatic_appliance.domain.sla import escalation_level, level_cutoffs
from reliatic_appliance.ports import IDEMPOTENCY_RETENTION, TenantDb, TenantTx
from reliatic_appliance.services.alerts import raise_alert
from reliatic_appliance.timefmt import format_ts

# Actions escalated per tenant per pass: bounds one transaction; the rest wait a tick.
ESCALATION_BATCH = 500


async def escalate_overdue_actions(
    db: TenantDb, *, now: datetime, levels_days: Sequence[int]
) -> int:
    """Raise one alert (and one `alert.escalated`) per level an open action has passed.

    "Once per level" is kept by the action's stored `escalation_level`, raised in the same
    transaction as the alerts, so two passes (or two schedulers) cannot both raise a level.
    """
    today = now.date()
    at = format_ts(now)
    cutoffs = level_cutoffs(today, levels_days)

    def write(tx: TenantTx) -> int:
        raised = 0
        for action in tx.sla.actions_owed_escalation(
            cutoffs=cutoffs,
            open_statuses=OPEN_ACTION_STATUSES,
            limit=ESCALATION_BATCH,
        ):
            due = datetime.fromisoformat(action["due_date"]).date()
            target = escalation_level(due, today, levels_days)
            for level in range(action["escalation_level"] + 1, target + 1):
                overdue_days = (today - due).days
                alert = raise_alert(
                    tx,
                    kind="sla_escalation",
                    severity="critical" if level > 1 else "warning",
                    resource_type="action",
                    resource_id=action["id"],
                    level=level,
                    message=(
                        f"Action '{action['title']}' ({action['priority']}) is {overdue_days}"
                        f" day(s) past its due date {action['due_date']}: escalation"
                        f" level {level}."
                    ),
                    at=at,
                    actor="scheduler",
                    # Below the stored level yet already alerted: reworked, due again.
                    reraise=True,
                )
                raised += alert is not None
            if target > action["escalation_level"]:
                tx.sla.set_escalation_level(action["id"], target)
        return raised

    return await db.write(write)


async def purge_old_log(db: TenantDb, *, now: datetime, retention_days: int) -> tuple[int, int]:
    """Drop finished deliveries and events older than the retention (default 30 days)."""
    cutoff = format_ts(now - timedelta(days=retention_days))
    return await db.write(lambda tx: tx.webhooks.purge_before(cutoff))


async def purge_idempotency_keys(db: TenantDb, *, now: datetime) -> int:
    """Drop Idempotency-Key records past their 24 h (SPEC §3; api/idempotency.py)."""
    cutoff = format_ts(now - IDEMPOTENCY_RETENTION)
    return await db.write(lambda tx: tx.idempotency.purge_before(cutoff))
