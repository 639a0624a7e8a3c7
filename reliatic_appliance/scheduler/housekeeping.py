"""Periodic jobs of the scheduler: SLA escalation and log retention (SPEC §7)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import apsw

from reliatic_appliance.domain.lifecycle import OPEN_ACTION_STATUSES
from reliatic_appliance.domain.sla import escalation_level
from reliatic_appliance.services.alerts import raise_alert
from reliatic_appliance.storage import sla as sla_store
from reliatic_appliance.storage import webhooks as webhook_store
from reliatic_appliance.storage.sqlite import Database
from reliatic_appliance.timefmt import format_ts

# Actions escalated per tenant per pass: bounds one transaction; the rest wait a tick.
ESCALATION_BATCH = 500


async def escalate_overdue_actions(
    db: Database, *, now: datetime, levels_days: Sequence[int]
) -> int:
    """Raise one alert (and one `alert.escalated`) per level an open action has passed."""
    today = now.date()
    at = format_ts(now)

    def write(conn: apsw.Connection) -> int:
        raised = 0
        for action in sla_store.overdue_actions(
            conn,
            today=today.isoformat(),
            open_statuses=OPEN_ACTION_STATUSES,
            limit=ESCALATION_BATCH,
        ):
            due = datetime.fromisoformat(action["due_date"]).date()
            target = escalation_level(due, today, levels_days)
            for level in range(action["escalation_level"] + 1, target + 1):
                overdue_days = (today - due).days
                alert = raise_alert(
                    conn,
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
                )
                raised += alert is not None
            if target > action["escalation_level"]:
                sla_store.set_escalation_level(conn, action["id"], target)
        return raised

    return await db.write(write)


async def purge_old_log(db: Database, *, now: datetime, retention_days: int) -> tuple[int, int]:
    """Drop finished deliveries and events older than the retention (default 30 days)."""
    cutoff = format_ts(now - timedelta(days=retention_days))
    return await db.write(lambda conn: webhook_store.purge_before(conn, cutoff))
