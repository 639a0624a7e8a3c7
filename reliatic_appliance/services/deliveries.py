"""The webhook outbox as the scheduler works it (SPEC §7). Time is always passed in: the
scheduler's clock."""

from __future__ import annotations

from datetime import datetime, timedelta

from reliatic_appliance.ports import TenantDb
from reliatic_appliance.timefmt import format_ts


async def purge_log(db: TenantDb, *, now: datetime, retention_days: int) -> tuple[int, int]:
    """Drop finished deliveries and events older than the retention (default 30 days);
    how many of each went."""
    cutoff = format_ts(now - timedelta(days=retention_days))
    return await db.write(lambda tx: tx.webhooks.purge_before(cutoff))
