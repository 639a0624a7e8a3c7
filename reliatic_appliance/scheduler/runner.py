"""The in-process scheduler (SPEC §7): a task owned by the app that delivers webhooks from
the outbox and runs housekeeping, started and stopped with the app's lifecycle.

Each tick, for every tenant: claim due deliveries with a lease (so neither a second tick
nor a second process on the same data dir can send one at the same time), in batches, into
one queue per subscription; send them concurrently within `[webhooks] concurrency`, at most a
quarter of it per subscription (a hung receiver never blocks the others); decide what comes
next and have it recorded behind the sends (`services/deliveries.py`, `records.py`). When a
queue runs low while more is due, the next claim comes at once, overlapping the sends,
instead of at the next tick. A delivery whose lease expires (the process died mid-send) is
claimed again: at least once, never lost. Time comes from an injected clock, so tests move
it instead of sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import ssl
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiohttp

from reliatic_appliance.domain.retry import decide
from reliatic_appliance.domain.signing import SigningKeys, sign_with, signing_keys
from reliatic_appliance.ports import ControlDb, TenantDb, TenantDirectory
from reliatic_appliance.scheduler import housekeeping
from reliatic_appliance.scheduler.delivery import USER_AGENT, send
from reliatic_appliance.scheduler.records import Records
from reliatic_appliance.scheduler.resolver import make_connector
from reliatic_appliance.secretbox import SecretBox
from reliatic_appliance.services import deliveries
from reliatic_appliance.services.events import feed_item
from reliatic_appliance.services.tenants import list_tenants
from reliatic_appliance.services.webhooks import signing_secrets, target_policy
from reliatic_appliance.settings import Settings
from reliatic_appliance.timefmt import format_ts

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Row = dict[str, Any]

# Extra lease time beyond the request timeout, for recording the outcome.
LEASE_MARGIN = timedelta(seconds=30)
HOUSEKEEPING_EVERY = timedelta(seconds=60)
# Rows claimed per tenant in one claim (one transaction, one fsync): enough to keep a fast
# receiver busy between claims; a subscription gets more only once its queue is empty.
# A claimed row must start sending within START_WITHIN of its claim, or it is given back
# unsent: every send then ends well inside its lease (timeout + LEASE_MARGIN), so two
# senders can never overlap, however long a hung receiver holds a slot.
CLAIM_BATCH = 256
START_WITHIN = LEASE_MARGIN / 2
# A subscription asks for its next claim when this many of its rows are left unstarted, not
# once they are all gone: the claim (a writer round trip) then overlaps the sends, and the
# receiver never waits for it. At most REFILL_AT + CLAIM_BATCH rows wait per subscription.
REFILL_AT = CLAIM_BATCH // 2
SECRET_CACHE_SIZE = 1024
# One encoder: `json.dumps` with non-default separators builds a new one at every call.
_COMPACT = json.JSONEncoder(separators=(",", ":"))


@dataclass(frozen=True, eq=False)
class _Claimed:
    """A claimed outbox row and its §7 body, encoded at the claim but for its delivery_id."""

    row: Row
    head: bytes
    tail: bytes

    def body(self) -> bytes:
        return self.head + json.dumps(self.row["id"]).encode() + self.tail


@dataclass(eq=False)
class _Queue:
    """Rows claimed for one subscription, each with the time its send must start by."""

    webhook_id: str
    tenant_slug: str
    db: TenantDb
    rows: deque[tuple[_Claimed, datetime]] = field(default_factory=deque)
    sending: int = 0


def _claimed(row: Row, events: dict[int, Row], tenant_slug: str) -> _Claimed | None:
    if row["payload"] is not None:  # a ping: no event row, its payload is stored
        return _Claimed(row, *body_parts(json.loads(row["payload"]), raw={}))
    event = events.get(row["event_id"])
    if event is None:
        return None
    # The event's data stays the compact JSON text it is stored as (storage/events.py):
    # spliced into the body as is, rather than decoded at the claim and encoded again.
    item = feed_item(event, tenant_slug)
    return _Claimed(row, *body_parts(item, raw={"data": item.pop("data")}))


def body_parts(payload: Row, *, raw: dict[str, str]) -> tuple[bytes, bytes]:
    """The body of a delivery of `payload`, in two parts: the delivery_id goes between them.

    The compact JSON of `{"id": ..., "delivery_id": ..., **payload, **raw}`, where the
    values in `raw` are JSON text already and are spliced in as they are (the rest is what
    `json.dumps` with compact separators gives). Built at the claim; the send only adds
    the delivery_id between the two parts.
    """
    rest = _COMPACT.encode({k: v for k, v in payload.items() if k not in ("id", "delivery_id")})
    fields = [rest[1:-1], *(f"{_COMPACT.encode(key)}:{value}" for key, value in raw.items())]
    tail = "".join(f",{field}" for field in fields if field)
    return f'{{"id":{_COMPACT.encode(payload["id"])},"delivery_id":'.encode(), f"{tail}}}".encode()


class Scheduler:
    def __init__(
        self,
        *,
        settings: Settings,
        control: ControlDb,
        tenants: TenantDirectory,
        box: SecretBox,
        clock: Clock,
    ) -> None:
        self._settings = settings
        self._control = control
        self._tenants = tenants
        self._box = box
        self._clock = clock
        self._owner = f"scheduler-{uuid.uuid4().hex[:12]}"
        self._rng = random.Random()
        self._slots = asyncio.Semaphore(settings.webhooks.concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        # Claimed rows waiting for a slot, per subscription; tenants whose last claim was
        # full (more is due); set when a queue drains and more is due: claim before the tick.
        self._queues: dict[str, _Queue] = {}
        self._more_due: set[TenantDb] = set()
        self._wake = asyncio.Event()
        self._records = Records()
        self._closing = False
        self._key_cache: dict[tuple[Any, ...], SigningKeys] = {}
        self._session: aiohttp.ClientSession | None = None
        self._next_housekeeping: datetime | None = None
        self.last_tick: datetime | None = None
        # When the run loop began, and whether it has ended (however it ended): readiness
        # must not report a scheduler that died before its first tick as alive.
        self._started_at: datetime | None = None
        self._stopped = False

    @property
    def delivered(self) -> int:
        """Deliveries this scheduler recorded as succeeded (tests and benchmarks read it)."""
        return self._records.succeeded

    # -- lifecycle -----------------------------------------------------------------------

    async def run(self) -> None:
        """The task's body; `alive()` is False from the moment it ends, for any reason."""
        self._started_at = self._clock()
        try:
            await self._loop()
        except Exception:
            # Logged here, when it happens; readiness (`alive`) reports it from now on.
            log.exception("scheduler stopped: it cannot run")
        finally:
            self._stopped = True

    async def _loop(self) -> None:
        ca = self._settings.webhooks.ca_bundle
        context = ssl.create_default_context(cafile=str(ca)) if ca else None
        connector = make_connector(
            target_policy(self._settings),
            limit=self._settings.webhooks.concurrency,
            ssl_context=context,
        )
        # trust_env=False: a proxy would hide the real target from the address check.
        # No cookie jar: a receiver's cookies have no business in later deliveries.
        async with aiohttp.ClientSession(
            connector=connector,
            trust_env=False,
            cookie_jar=aiohttp.DummyCookieJar(),
            headers={"User-Agent": USER_AGENT},
        ) as session:
            self._session = session
            try:
                while True:
                    self._wake.clear()
                    try:
                        await self.tick()
                    except Exception:
                        log.exception("scheduler tick failed")
                    # Until the next tick, or sooner when a queue drained and more is due.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(
                            self._wake.wait(), self._settings.scheduler.tick_seconds
                        )
            finally:
                await self._drain()
                self._session = None

    async def _drain(self) -> None:
        """On shutdown: give back rows not yet started, give in-flight sends a moment, then
        cancel them (their leases expire), and write the records already in."""
        self._closing = True
        for queue in self._queues.values():
            if queue.rows:
                self._give_back(queue.db, [claimed.row["id"] for claimed, _ in queue.rows])
            queue.rows.clear()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self._records.drain()

    def alive(self, now: datetime) -> bool:
        """The loop runs and has ticked lately (or, before its first tick, began lately)."""
        if self._stopped:
            return False
        last = self.last_tick or self._started_at
        if last is None:
            return True  # the task is created and about to run
        limit = timedelta(seconds=max(60.0, 10 * self._settings.scheduler.tick_seconds))
        return now - last < limit

    # -- one tick ------------------------------------------------------------------------

    async def tick(self) -> None:
        now = self._clock()
        self.last_tick = now
        tenants = await list_tenants(self._control)
        housekeeping_due = self._next_housekeeping is None or now >= self._next_housekeeping
        for tenant in tenants:
            if tenant["disabled_at"] is not None:
                continue
            db = await self._tenants.get(tenant["id"])
            await self._dispatch(tenant["slug"], db, now)
            if housekeeping_due:
                await self._housekeeping(db, now)
        if housekeeping_due:
            self._next_housekeeping = now + HOUSEKEEPING_EVERY

    async def run_housekeeping(self) -> None:
        """Run the periodic jobs now, for every tenant (tests and the CLI use this)."""
        now = self._clock()
        for tenant in await list_tenants(self._control):
            if tenant["disabled_at"] is None:
                await self._housekeeping(await self._tenants.get(tenant["id"]), now)

    async def _housekeeping(self, db: TenantDb, now: datetime) -> None:
        await housekeeping.run(db, now=now, settings=self._settings)

    async def _dispatch(self, tenant_slug: str, db: TenantDb, now: datetime) -> None:
        """Claim due deliveries of one tenant into their subscriptions' queues."""
        if self._closing:
            return
        # A subscription with enough rows still queued says when it wants more (`_wake`);
        # skipping it keeps a hung receiver's backlog from filling every claim (others go
        # on), and bounds what waits in memory per subscription.
        skip = [
            q.webhook_id for q in self._queues.values() if q.db is db and len(q.rows) > REFILL_AT
        ]
        limit = CLAIM_BATCH
        lease_until = now + timedelta(seconds=self._settings.webhooks.timeout_seconds)
        lease = deliveries.Lease(self._owner, lease_until + LEASE_MARGIN)
        got = await deliveries.claim_due(db, lease, now=now, limit=limit, skip_webhooks=skip)
        claimed, events = got.rows, got.events
        # A short claim that skipped subscriptions says nothing of what is due for them: they
        # must still wake the loop when they want more, not wait for the next tick.
        if len(claimed) >= limit or skip:
            self._more_due.add(db)
        else:
            self._more_due.discard(db)
        start_by = now + START_WITHIN
        touched = {}
        for row in claimed:
            item = _claimed(row, events, tenant_slug)
            if item is None:
                continue  # no event row (the cascade makes that impossible): never sent
            queue = self._queues.get(row["webhook_id"])
            if queue is None:
                queue = self._queues[row["webhook_id"]] = _Queue(row["webhook_id"], tenant_slug, db)
            queue.rows.append((item, start_by))
            touched[queue.webhook_id] = queue
        for queue in touched.values():
            self._pump(queue)

    def _pump(self, queue: _Queue) -> None:
        """Start senders for `queue`, at most `per_hook` at once for one subscription."""
        # One slow or hung receiver must not take every slot from the others.
        per_hook = max(1, self._settings.webhooks.concurrency // 4)
        while queue.sending < per_hook and queue.rows and not self._closing:
            queue.sending += 1
            task = asyncio.create_task(self._sender(queue))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    # -- one delivery --------------------------------------------------------------------

    async def _sender(self, queue: _Queue) -> None:
        """Send `queue`'s rows one after another until it is empty: one task per sender,
        not one per delivery (a task costs about as much as signing a delivery)."""
        try:
            while queue.rows and not self._closing:
                claimed, start_by = queue.rows.popleft()
                if len(queue.rows) == REFILL_AT:
                    self._want_more(queue)  # once per claim's worth, not once per row
                await self._deliver(queue, claimed, start_by)
        finally:
            queue.sending -= 1
            if not queue.rows:
                if queue.sending == 0 and self._queues.get(queue.webhook_id) is queue:
                    del self._queues[queue.webhook_id]
                self._want_more(queue)

    def _want_more(self, queue: _Queue) -> None:
        if queue.db in self._more_due:
            self._wake.set()  # room for more, and more is due: claim now, not at the tick

    async def _deliver(self, queue: _Queue, claimed: _Claimed, start_by: datetime) -> None:
        try:
            async with self._slots:
                # Started this late, the send might outlive the lease: give it back instead.
                if self._clock() > start_by or not await self._attempt(queue, claimed):
                    self._give_back(queue.db, [claimed.row["id"]])
        except Exception:
            log.exception("delivery attempt failed unexpectedly")

    async def _attempt(self, queue: _Queue, claimed: _Claimed) -> bool:
        """Send once and queue the outcome's record; False if the row must be given back."""
        assert self._session is not None
        row = claimed.row
        now = self._clock()
        # Read at every attempt, not at the claim: a subscription removed, disabled or
        # rotated since then must be honoured (events, read at the claim, never change).
        # The row is reused only while the file has not changed since (any commit re-reads).
        webhook = await deliveries.current_webhook(queue.db, row["webhook_id"])
        if webhook is None:
            return True  # removed meanwhile; the cascade removed the delivery too
        if not webhook["enabled"]:
            return False  # disabled since the claim (e.g. a 410): re-enabling sends it
        body = claimed.body()
        # Signed afresh for every attempt: receivers reject timestamps older than 5 min.
        headers = sign_with(
            self._keys(webhook, now),
            delivery_id=row["id"],
            event_type=row["event_type"],
            timestamp=int(now.timestamp()),
            body=body,
        )
        result = await send(
            self._session,
            url=webhook["url"],
            body=body,
            headers=headers,
            timeout_seconds=self._settings.webhooks.timeout_seconds,
        )
        decision = decide(
            result,
            cycle_attempts=row["cycle_attempts"],
            schedule=self._settings.webhooks.retry_schedule_seconds,
            rng=self._rng,
            now=now,
        )
        outcome = deliveries.Outcome(row, webhook, now, self._clock(), result, decision)
        # Recorded behind the send: the slot is free as soon as the answer is in.
        self._records.track(deliveries.record_outcome(queue.db, outcome, owner=self._owner))
        return True

    def _keys(self, webhook: Row, now: datetime) -> SigningKeys:
        """The signing keys, decrypted and derived once per stored value, not per attempt."""
        key = (
            webhook["id"],
            webhook["secret_enc"],
            webhook["previous_secret_enc"],
            webhook["previous_secret_expires_at"] or "",
            # Whether the previous secret still signs changes with time, not with the row.
            bool(webhook["previous_secret_expires_at"])
            and webhook["previous_secret_expires_at"] > format_ts(now),
        )
        found = self._key_cache.get(key)
        if found is None:
            if len(self._key_cache) >= SECRET_CACHE_SIZE:
                self._key_cache.clear()
            secrets = signing_secrets(webhook, self._box, now)
            found = self._key_cache[key] = signing_keys(secrets)
        return found

    def _give_back(self, db: TenantDb, delivery_ids: list[str]) -> None:
        self._records.track(deliveries.release(db, delivery_ids, owner=self._owner))
