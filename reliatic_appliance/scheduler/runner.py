"""The in-process scheduler (SPEC §7): a task owned by the app that delivers webhooks from
the outbox and runs housekeeping, started and stopped with the app's lifecycle.

Each tick, for every tenant: claim due deliveries with a lease (so neither a second tick
nor a second process on the same data dir can send one at the same time), send them
concurrently within `[webhooks] concurrency`, record each attempt and decide what comes
next. A delivery whose lease expires (the process died mid-send) is claimed again: at least
once, never lost. Time comes from an injected clock, so tests move it instead of sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import ssl
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import apsw

from reliatic_appliance.domain.signing import sign_headers
from reliatic_appliance.scheduler import housekeeping
from reliatic_appliance.scheduler.delivery import AttemptResult, Decision, decide, send
from reliatic_appliance.scheduler.resolver import make_connector
from reliatic_appliance.secretbox import SecretBox
from reliatic_appliance.services.alerts import raise_alert
from reliatic_appliance.services.events import feed_item
from reliatic_appliance.services.webhooks import signing_secrets, target_policy
from reliatic_appliance.settings import Settings
from reliatic_appliance.storage import control as control_store
from reliatic_appliance.storage import webhooks as store
from reliatic_appliance.storage.sqlite import Database
from reliatic_appliance.storage.tenancy import TenantDatabases
from reliatic_appliance.timefmt import format_ts

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Row = dict[str, Any]

# SPEC §7: a subscription whose last 20 deliveries each ended `failed` is disabled.
MAX_CONSECUTIVE_FAILED = 20
# Extra lease time beyond the request timeout, for recording the outcome.
LEASE_MARGIN = timedelta(seconds=30)
HOUSEKEEPING_EVERY = timedelta(seconds=60)


class Scheduler:
    def __init__(
        self,
        *,
        settings: Settings,
        control: Database,
        tenants: TenantDatabases,
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
        self._in_flight: Counter[str] = Counter()
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self._next_housekeeping: datetime | None = None
        self.last_tick: datetime | None = None
        self.delivered = 0

    # -- lifecycle -----------------------------------------------------------------------

    async def run(self) -> None:
        ca = self._settings.webhooks.ca_bundle
        context = ssl.create_default_context(cafile=str(ca)) if ca else None
        connector = make_connector(
            target_policy(self._settings),
            limit=self._settings.webhooks.concurrency,
            ssl_context=context,
        )
        # trust_env=False: a proxy would hide the real target from the address check.
        async with aiohttp.ClientSession(connector=connector, trust_env=False) as session:
            self._session = session
            try:
                while True:
                    try:
                        await self.tick()
                    except Exception:
                        log.exception("scheduler tick failed")
                    await asyncio.sleep(self._settings.scheduler.tick_seconds)
            finally:
                await self._drain()
                self._session = None

    async def _drain(self) -> None:
        """On shutdown, give in-flight sends a moment, then cancel (their leases expire)."""
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def alive(self, now: datetime) -> bool:
        if self.last_tick is None:
            return True  # starting
        limit = timedelta(seconds=max(60.0, 10 * self._settings.scheduler.tick_seconds))
        return now - self.last_tick < limit

    # -- one tick ------------------------------------------------------------------------

    async def tick(self) -> None:
        now = self._clock()
        self.last_tick = now
        tenants = self._control.read(control_store.list_tenants)
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
        for tenant in self._control.read(control_store.list_tenants):
            if tenant["disabled_at"] is None:
                await self._housekeeping(await self._tenants.get(tenant["id"]), now)

    async def _housekeeping(self, db: Database, now: datetime) -> None:
        try:
            await housekeeping.escalate_overdue_actions(
                db, now=now, levels_days=self._settings.sla.escalation_levels_days
            )
            await housekeeping.purge_old_log(
                db, now=now, retention_days=self._settings.webhooks.log_retention_days
            )
        except Exception:
            log.exception("housekeeping failed")

    async def _dispatch(self, tenant_slug: str, db: Database, now: datetime) -> None:
        free = self._settings.webhooks.concurrency - len(self._tasks)
        if free <= 0:
            return
        lease_until = now + timedelta(seconds=self._settings.webhooks.timeout_seconds)
        claimed = await db.write(
            lambda conn: store.claim_due(
                conn,
                owner=self._owner,
                now=format_ts(now),
                lease_until=format_ts(lease_until + LEASE_MARGIN),
                limit=free,
            )
        )
        # One slow or hung receiver must not take every slot from the others.
        per_hook = max(1, self._settings.webhooks.concurrency // 4)
        released = []
        for row in claimed:
            if self._in_flight[row["webhook_id"]] >= per_hook:
                released.append(row["id"])
                continue
            self._in_flight[row["webhook_id"]] += 1
            task = asyncio.create_task(self._deliver(tenant_slug, db, row))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if released:
            await db.write(lambda conn: store.release(conn, released, owner=self._owner))

    # -- one delivery --------------------------------------------------------------------

    def _body(self, conn: apsw.Connection, tenant_slug: str, row: Row) -> bytes | None:
        if row["payload"] is not None:
            payload = json.loads(row["payload"])
        else:
            event = store.event_row(conn, row["event_id"])
            if event is None:
                return None
            payload = feed_item(event, tenant_slug)
        payload = {"id": payload["id"], "delivery_id": row["id"], **payload}
        return json.dumps(payload, separators=(",", ":")).encode()

    async def _deliver(self, tenant_slug: str, db: Database, row: Row) -> None:
        try:
            async with self._slots:
                await self._attempt(tenant_slug, db, row)
        except Exception:
            log.exception("delivery attempt failed unexpectedly")
        finally:
            self._in_flight[row["webhook_id"]] -= 1
            if self._in_flight[row["webhook_id"]] <= 0:
                del self._in_flight[row["webhook_id"]]

    async def _attempt(self, tenant_slug: str, db: Database, row: Row) -> None:
        assert self._session is not None
        now = self._clock()
        webhook, body = db.read(
            lambda conn: (
                store.get_webhook(conn, row["webhook_id"]),
                self._body(conn, tenant_slug, row),
            )
        )
        if webhook is None or body is None:
            return  # removed meanwhile; the cascade removed the delivery too
        # Signed afresh for every attempt: receivers reject timestamps older than 5 min.
        headers = sign_headers(
            secrets=signing_secrets(webhook, self._box, now),
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
            schedule=list(self._settings.webhooks.retry_schedule_seconds),
            rng=self._rng,
            now=now,
        )
        finished = self._clock()
        await db.write(
            lambda conn: self._record(conn, row, webhook, now, finished, result, decision)
        )
        if decision.status == "succeeded":
            self.delivered += 1

    def _record(
        self,
        conn: apsw.Connection,
        row: Row,
        webhook: Row,
        started: datetime,
        finished: datetime,
        result: AttemptResult,
        decision: Decision,
    ) -> None:
        """The attempt, the delivery's new state and any consequence, in one transaction."""
        at = format_ts(finished)
        next_at = (
            format_ts(finished + timedelta(seconds=decision.delay_seconds))
            if decision.delay_seconds is not None
            else None
        )
        if not store.finish_attempt(
            conn,
            row["id"],
            owner=self._owner,
            status=decision.status,
            next_attempt_at=next_at,
            http_status=result.http_status,
            error=result.error,
            now=at,
        ):
            return  # our lease expired and someone else took over; their record stands
        store.record_attempt(
            conn,
            {
                "delivery_id": row["id"],
                "attempt": row["attempts"] + 1,
                "started_at": format_ts(started),
                "duration_ms": result.duration_ms,
                "http_status": result.http_status,
                "error": result.error,
            },
        )
        reason = decision.disable_reason
        if decision.status in ("succeeded", "failed") and row["event_type"] != "ping":
            failures = store.count_failure(conn, webhook["id"], decision.status == "failed")
            if reason is None and failures >= MAX_CONSECUTIVE_FAILED:
                reason = f"the last {failures} deliveries each failed after every retry"
        if reason is not None and webhook["enabled"]:
            store.update_webhook(
                conn, webhook["id"], {"enabled": False, "disabled_reason": reason}, at
            )
            raise_alert(
                conn,
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
                "webhook disabled",
                extra={"fields": {"webhook_id": webhook["id"], "reason": reason}},
            )
