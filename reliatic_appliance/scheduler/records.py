"""What a delivery attempt leaves in the database, written behind the sends (SPEC §7).

An attempt's outcome is recorded (the attempt log, the delivery's next state, and any
consequence: a subscription disabled after a 410 or 20 deliveries failed in a row, with
its alert) only while the sender still holds the delivery's lease, so a takeover's record
always wins. Records are not written one by one: `WriteBehind` gathers those that arrive
while a write is in progress (or, for a small batch, within a few milliseconds) and writes
them together, in one transaction (one fsync) per tenant file, each in its own savepoint so
a failing one rolls back alone. The sender's
slot is free as soon as the receiver has answered; the row stays leased until its record is
committed, so nobody else sends it meanwhile, and if the record is never committed (a crash,
a full disk) the lease runs out and the delivery is sent again: at least once, never lost.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from reliatic_appliance.domain.retry import AttemptResult, Decision
from reliatic_appliance.ports import TenantDb, TenantTx
from reliatic_appliance.services.alerts import raise_alert
from reliatic_appliance.timefmt import format_ts

log = logging.getLogger(__name__)

Row = dict[str, Any]
# A write job: runs in the writer thread; True when it records a successful delivery.
Job = Callable[[TenantTx], bool]

# SPEC §7: a subscription whose last 20 deliveries each ended `failed` is disabled.
MAX_CONSECUTIVE_FAILED = 20
# A batch smaller than BATCH_TARGET waits up to LINGER_SECONDS for more records before it is
# written: a commit costs an fsync and the WAL's bookkeeping whatever its size, and with a
# few sends in flight records would otherwise trickle in one or two per commit. The rows
# stay leased meanwhile, so the wait delays nothing but the log.
BATCH_TARGET = 64
LINGER_SECONDS = 0.01


@dataclass(frozen=True)
class Outcome:
    """One attempt, as sent: the leased row, the subscription as read for it, the answer."""

    row: Row
    webhook: Row
    started: datetime
    finished: datetime
    result: AttemptResult
    decision: Decision


def record_outcome(tx: TenantTx, outcome: Outcome, *, owner: str) -> bool:
    """The attempt, the delivery's new state and any consequence, in the caller's transaction.

    True when it records a success. Nothing is written if `owner` lost the lease meanwhile.
    """
    row, webhook, result, decision = outcome.row, outcome.webhook, outcome.result, outcome.decision
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
        return False  # our lease expired and someone else took over; their record stands
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
    reason = decision.disable_reason
    if decision.status in ("succeeded", "failed") and row["event_type"] != "ping":
        failures = tx.webhooks.count_failure(webhook["id"], decision.status == "failed")
        if reason is None and failures >= MAX_CONSECUTIVE_FAILED:
            reason = f"the last {failures} deliveries each failed after every retry"
    if reason is not None:
        _disable(tx, webhook, reason, at)
    return decision.status == "succeeded"


def _disable(tx: TenantTx, webhook: Row, reason: str, at: str) -> None:
    # Read again: another outcome written in the same batch may have disabled it already.
    current = tx.webhooks.get_webhook(webhook["id"])
    if current is None or not current["enabled"]:
        return
    tx.webhooks.update_webhook(webhook["id"], {"enabled": False, "disabled_reason": reason}, at)
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


def give_back(tx: TenantTx, delivery_id: str, *, owner: str) -> bool:
    """Release a lease taken but not used: the row is due again for any scheduler."""
    tx.webhooks.release([delivery_id], owner=owner)
    return False


def _run_each(jobs: list[Job], tx: TenantTx) -> int:
    """Run each job in its own savepoint, so a failing one rolls back alone; count Trues."""
    done = 0
    for job in jobs:
        try:
            with tx.savepoint():
                done += bool(job(tx))
        except Exception:
            log.exception("recording one delivery outcome failed")
    return done


class WriteBehind:
    """Jobs per tenant file, written in batches by one task per file."""

    def __init__(self) -> None:
        self._waiting: dict[TenantDb, list[Job]] = {}
        self._writing: dict[TenantDb, asyncio.Task[None]] = {}
        # Files whose next batch must not linger: it disables a subscription, which must
        # stop its other sends at once (SPEC §7: a 410 disables at once).
        self._urgent: set[TenantDb] = set()
        self.succeeded = 0

    def add(self, db: TenantDb, job: Job, *, urgent: bool = False) -> None:
        """Queue `job` for `db`; jobs queued while a batch is written form the next batch."""
        self._waiting.setdefault(db, []).append(job)
        if urgent:
            self._urgent.add(db)
        if db not in self._writing:
            self._writing[db] = asyncio.create_task(self._write(db))

    async def _write(self, db: TenantDb) -> None:
        try:
            while True:
                if db not in self._urgent and len(self._waiting.get(db, ())) < BATCH_TARGET:
                    await asyncio.sleep(LINGER_SECONDS)
                self._urgent.discard(db)
                batch = self._waiting.pop(db, None)
                if not batch:
                    break
                try:
                    self.succeeded += await db.write(functools.partial(_run_each, batch))
                except Exception:
                    # Not recorded: those rows stay leased until their lease ends, then
                    # are sent again (at least once, never lost).
                    log.exception("recording delivery outcomes failed")
        finally:
            self._writing.pop(db, None)

    async def drain(self) -> None:
        """Until everything queued so far is written (or has failed to be)."""
        while self._writing:
            await asyncio.gather(*self._writing.values(), return_exceptions=True)
