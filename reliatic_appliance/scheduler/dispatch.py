"""From claims to sends (SPEC §7): one queue of claimed rows per subscription, emptied by a
few sender tasks each, within `[webhooks] concurrency` in all and at most a quarter of it per
subscription, so a hung receiver never blocks the others.

When a queue runs low while more is due, it asks for the next claim at once (`wake`),
overlapping the sends, instead of waiting for the next tick. A subscription with enough
rows still queued is left out of claims until then: a hung receiver's backlog cannot fill
every claim, and what waits in memory per subscription stays bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from reliatic_appliance.ports import TenantDb
from reliatic_appliance.scheduler import claim
from reliatic_appliance.scheduler.send import Records, Sender
from reliatic_appliance.services import deliveries
from reliatic_appliance.settings import Settings

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

# A subscription asks for its next claim when this many of its rows are left unstarted, not
# once they are all gone: the claim (a writer round trip) then overlaps the sends, and the
# receiver never waits for it. At most REFILL_AT + CLAIM_BATCH rows wait per subscription.
REFILL_AT = claim.CLAIM_BATCH // 2
# On shutdown, how long sends in flight may take to finish before they are cancelled.
SHUTDOWN_GRACE_SECONDS = 5


@dataclass(eq=False)
class _Queue:
    """Rows claimed for one subscription, not yet started."""

    webhook_id: str
    db: TenantDb
    tenant_slug: str
    rows: deque[claim.Claimed] = field(default_factory=deque)
    sending: int = 0


class Dispatcher:
    """The queues and their sender tasks; `wake` is set when a claim is wanted before the tick."""

    def __init__(
        self,
        *,
        settings: Settings,
        clock: Clock,
        owner: str,
        sender: Sender,
        records: Records,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._owner = owner
        self._sender = sender
        self._records = records
        self._slots = asyncio.Semaphore(settings.webhooks.concurrency)
        # One slow or hung receiver must not take every slot from the others.
        self._per_hook = max(1, settings.webhooks.concurrency // 4)
        self._tasks: set[asyncio.Task[None]] = set()
        self._queues: dict[str, _Queue] = {}
        # Tenants whose last claim was full, or skipped subscriptions: more may be due.
        self._more_due: set[TenantDb] = set()
        self._closing = False
        self.wake = asyncio.Event()

    async def dispatch(self, tenant_slug: str, db: TenantDb, now: datetime) -> None:
        """Claim due deliveries of one tenant into their subscriptions' queues."""
        if self._closing:
            return
        skip = [
            q.webhook_id for q in self._queues.values() if q.db is db and len(q.rows) > REFILL_AT
        ]
        claimed, full = await claim.claim(
            db,
            tenant_slug,
            owner=self._owner,
            now=now,
            timeout_seconds=self._settings.webhooks.timeout_seconds,
            skip_webhooks=skip,
        )
        # A short claim that skipped subscriptions says nothing of what is due for them: they
        # must still wake the loop when they want more, not wait for the next tick.
        if full or skip:
            self._more_due.add(db)
        else:
            self._more_due.discard(db)
        touched: dict[str, _Queue] = {}
        for item in claimed:
            webhook_id = item.row["webhook_id"]
            queue = self._queues.get(webhook_id)
            if queue is None:
                queue = self._queues[webhook_id] = _Queue(webhook_id, db, tenant_slug)
            queue.rows.append(item)
            touched[webhook_id] = queue
        for queue in touched.values():
            self._pump(queue)

    def _pump(self, queue: _Queue) -> None:
        """Start senders for `queue`, up to the per-subscription share of the slots."""
        while queue.sending < self._per_hook and queue.rows and not self._closing:
            queue.sending += 1
            task = asyncio.create_task(self._send_all(queue))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send_all(self, queue: _Queue) -> None:
        """Send `queue`'s rows one after another until it is empty: one task per sender,
        not one per delivery (a task costs about as much as signing a delivery)."""
        try:
            while queue.rows and not self._closing:
                item = queue.rows.popleft()
                if len(queue.rows) == REFILL_AT:
                    self._want_more(queue)  # once per claim's worth, not once per row
                await self._deliver(queue, item)
        finally:
            queue.sending -= 1
            if not queue.rows:
                if queue.sending == 0 and self._queues.get(queue.webhook_id) is queue:
                    del self._queues[queue.webhook_id]
                self._want_more(queue)

    def _want_more(self, queue: _Queue) -> None:
        if queue.db in self._more_due:
            self.wake.set()  # room for more, and more is due: claim now, not at the tick

    async def _deliver(self, queue: _Queue, item: claim.Claimed) -> None:
        db = queue.db
        try:
            async with self._slots:
                # Started this late, the send might outlive the lease: give it back instead.
                if self._clock() > item.start_by or not await self._sender.attempt(
                    db, item, tenant_slug=queue.tenant_slug
                ):
                    self._give_back(db, [item.row["id"]])
        except Exception:
            log.exception("delivery attempt failed unexpectedly")

    def _give_back(self, db: TenantDb, delivery_ids: list[str]) -> None:
        self._records.track(deliveries.release(db, delivery_ids, owner=self._owner))

    async def close(self) -> None:
        """On shutdown: give back rows not yet started, give sends in flight a moment, then
        cancel them (their leases expire, and they are sent again)."""
        self._closing = True
        for queue in self._queues.values():
            if queue.rows:
                self._give_back(queue.db, [item.row["id"] for item in queue.rows])
            queue.rows.clear()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=SHUTDOWN_GRACE_SECONDS)
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
