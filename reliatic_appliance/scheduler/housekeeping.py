"""The scheduler's periodic jobs over one tenant (SPEC §7): each minute, SLA escalation, the
delivery log's retention and expired Idempotency-Key records; each tick, merging the
`search` index. Each job is a service; this only says when they run and with which
settings."""

from __future__ import annotations

import logging
from datetime import datetime

from reliatic_appliance.ports import TenantDb
from reliatic_appliance.services import alerts, assets, deliveries, idempotency
from reliatic_appliance.settings import Settings

log = logging.getLogger(__name__)


async def run(db: TenantDb, *, now: datetime, settings: Settings) -> None:
    """Every job once, as of `now`; a failure is logged, and the next pass tries again."""
    try:
        await alerts.escalate_overdue_actions(
            db, now=now, levels_days=settings.sla.escalation_levels_days
        )
        await deliveries.purge_log(db, now=now, retention_days=settings.webhooks.log_retention_days)
        await idempotency.purge_expired(db, now=now)
    except Exception:
        log.exception("housekeeping failed")


async def tidy_each_tick(db: TenantDb) -> None:
    """A few steps of merging the `search` index (`assets.tidy_search_index`); a failure is
    logged, and the next tick tries again."""
    try:
        await assets.tidy_search_index(db)
    except Exception:
        log.exception("merging the search index failed")
