"""The webhook outbox as the scheduler works it (SPEC §7): claim due deliveries, read the
subscription an attempt goes to, record each attempt's outcome with its consequences, give
back leases not used, purge the log. Time is always passed in: the scheduler's clock.

An outcome is recorded (the attempt log, the delivery's next state, and any consequence: a
subscription disabled after a 410 or 20 deliveries failed in a row, with its alert) only
while the sender still holds the delivery's lease, so a takeover's record always wins.
Nobody waits on a record: the sender's slot is free as soon as the receiver has answered.
So records *linger* (`ports.TenantDb.write`): the many small ones of a busy scheduler share
one transaction (one fsync), each in its own savepoint so a failing one rolls back alone.
The row stays leased until its record is committed, so nobody else sends it meanwhile, and
if the record is never committed (a crash, a full disk) the lease runs out and the delivery
is sent again: at least once, never lost.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from reliatic_appliance.domain.event_types import PING
from reliatic_appliance.domain.retry import AttemptResult, Decision, DeliveryStatus
from reliatic_appliance.ports import Row, TenantDb, TenantTx
from reliatic_appliance.services.alerts import raise_alert
from reliatic_appliance.services.audit import SCHEDULER, record_tenant
from reliatic_appliance.timefmt import format_ts

log = logging.getLogger(__name__)

# SPEC §7: a subscription whose last 20 deliveries each ended `failed` is disabled.
MAX_CONSECUTIVE_FAILED = 20
# How long a record may wait for others to share its commit: a commit costs an fsync and the
# WAL's bookkeeping whatever its size, and with a few sends in flight records would trickle
# in one or two per commit. The rows stay leased meanwhile, so this delays only the log.
RECORD_LINGER = 0.01


@dataclass(frozen=True)
class Lease:
    """Who holds a claimed row, and until when (then anyone may claim it again)."""

    owner: str
    until: datetime


@dataclass(frozen=True)
class Claim:
    """Due rows leased in one claim, and the events they deliver (by event id; a ping has
    none: its payload is on the row)."""

    rows: list[Row]
    events: dict[int, Row]


@dataclass(frozen=True)
class Outcome:
    """One attempt, as sent: the leased row, the subscription as read for it, the answer."""

    row: Row
    webhook: Row
    started: datetime
    finished: datetime
    result: AttemptResult
    decision: Decision


async def claim_due(
    db: TenantDb,
    lease: Lease,
    *,
    now: datetime,
    limit: int,
    skip_webhooks: Sequence[str] = (),
) -> Claim:
    """Lease up to `limit` deliveries due at `now`, oldest first, and read their events, in
    one write (one trip to the writer). `skip_webhooks`: subscriptions the caller has
    enough of already; their rows wait for a later claim."""
    at, until = format_ts(now), format_ts(lease.until)

    def claim(tx: TenantTx) -> Claim:
        rows = tx.webhooks.claim_due(
            owner=lease.owner, now=at, lease_until=until, limit=limit, skip_webhooks=skip_webhooks
        )
        ids = [row["event_id"] for row in rows if row["event_id"] is not None]
        return Claim(rows, tx.webhooks.event_rows(ids))

    return await db.write(claim)


async def current_webhook(db: TenantDb, webhook_id: str) -> Row | None:
    """The subscription as it is now (None once removed), for an attempt about to be sent.

    Read at every attempt, not at the claim: a subscription disabled or rotated since must
    be honoured. The row is shared while the data has not changed: never change it."""
    return await db.read(lambda tx: tx.webhooks.current_webhook(webhook_id))


def record_outcome(
    db: TenantDb, outcome: Outcome, *, owner: str
) -> Awaitable[DeliveryStatus | None]:
    """Record `outcome` behind the send (see the module doc); resolves after COMMIT to the
    status it recorded, or None when nothing was written (the lease was lost).

    One that disables its subscription does not linger: a 410 disables at once (SPEC §7),
    and the subscription's other sends must see that before they start.
    """
    linger = 0.0 if outcome.decision.disable_reason is not None else RECORD_LINGER
    return db.write(functools.partial(_record, outcome=outcome, owner=owner), linger=linger)


def release(db: TenantDb, delivery_ids: Sequence[str], *, owner: str) -> Awaitable[None]:
    """Give back leases taken but not used: the rows are due again, for any scheduler."""
    ids = list(delivery_ids)
    return db.write(lambda tx: tx.webhooks.release(ids, owner=owner), linger=RECORD_LINGER)


async def purge_log(db: TenantDb, *, now: datetime, retention_days: int) -> tuple[int, int]:
    """Drop finished deliveries and events older than the retention (default 30 days);
    how many of each went."""
    cutoff = format_ts(now - timedelta(days=retention_days))
    return await db.write(lambda tx: tx.webhooks.purge_before(cutoff))


@dataclass(frozen=True)
class Backlog:
    """The outbox of one tenant as /metrics reports it (SPEC §7)."""

    pending: int
    oldest_age_seconds: float  # 0 when nothing is pending


async def backlog(db: TenantDb, *, now: datetime) -> Backlog:
    """Pending deliveries and the age of the oldest of them, at `now`: one read per scrape."""
    pending, oldest = await db.read(lambda tx: tx.webhooks.pending_backlog(), snapshot=False)
    age = max(0.0, (now - datetime.fromisoformat(oldest)).total_seconds()) if oldest else 0.0
    return Backlog(pending, age)


def _record(tx: TenantTx, outcome: Outcome, *, owner: str) -> DeliveryStatus | None:
    """The attempt, the delivery's new state and any consequence, in the caller's transaction."""
    row, result, decision = outcome.row, outcome.result, outcome.decision
    at = format_ts(outcome.finished)
    next_at = (
        format_ts(outcome.finished + timedelta(seconds=decision.delay_seconds))
        if decision.delay_seconds is not None
        else None
    )
    if not tx.webhooks.finish_attempt(
        row["id"],
        owner=owner,
        status=decision.status,
        next_attempt_at=next_at,
        http_status=result.http_status,
        error=result.error,
        now=at,
    ):
        return None  # our lease expired and someone else took over; their record stands
    tx.webhooks.record_attempt(
        {
            "delivery_id": row["id"],
            "attempt": row["attempts"] + 1,
            "started_at": format_ts(outcome.started),
            "duration_ms": result.duration_ms,
            "http_status": result.http_status,
            "error": result.error,
        },
    )
    _consequences(tx, outcome, at)
    return decision.status


def _consequences(tx: TenantTx, outcome: Outcome, at: str) -> None:
    """Disable the subscription after a 410, or once its last 20 deliveries each failed."""
    decision, webhook = outcome.decision, outcome.webhook
    reason = decision.disable_reason
    finished = decision.status in (DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED)
    if finished and outcome.row["event_type"] != PING:
        failed = decision.status == DeliveryStatus.FAILED
        failures = tx.webhooks.count_failure(webhook["id"], failed)
        if reason is None and failures >= MAX_CONSECUTIVE_FAILED:
            reason = f"the last {failures} deliveries each failed after every retry"
    if reason is not None:
        _disable(tx, webhook, reason, at)


def _disable(tx: TenantTx, webhook: Row, reason: str, at: str) -> None:
    # Read again: another outcome in the same transaction may have disabled it already.
    current = tx.webhooks.get_webhook(webhook["id"])
    if current is None or not current["enabled"]:
        return
    tx.webhooks.update_webhook(webhook["id"], {"enabled": False, "disabled_reason": reason}, at)
    record_tenant(
        tx,
        SCHEDULER.act("webhook.disabled", "webhook", webhook["id"], {"reason": reason}),
        now=datetime.fromisoformat(at),
    )
    raise_alert(
        tx,
        kind="webhook_disabled",
        severity="critical",
        resource_type="webhook",
        resource_id=webhook["id"],
        level=None,
        message=f"Webhook to {webhook['url']} was disabled: {reason}.",
        at=at,
        actor="scheduler",
    )
    log.warning(
        "webhook disabled", extra={"fields": {"webhook_id": webhook["id"], "reason": reason}}
    )
