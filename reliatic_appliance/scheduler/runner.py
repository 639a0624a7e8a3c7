"""The in-process scheduler (SPEC §7): a task owned by the app that delivers webhooks from
the outbox and runs housekeeping, started and stopped with the app's lifecycle.

Each tick, for every enabled tenant: claim due deliveries (`claim.py`) into one queue per
subscription, whose senders (`dispatch.py`) send them one attempt at a time (`send.py`) and
have each outcome recorded behind the send (`services/deliveries.py`); once a minute, the
housekeeping pass (`housekeeping.py`); then a few steps of merging each tenant's `search`
index. Between ticks the loop also wakes when a queue runs low while more is due. Scheduled
backups (`[backup] interval_minutes`) run as a task of their own, in a thread, so a long one
never holds up a delivery. Time comes from an injected clock, so tests move it instead of
sleeping; the data only through the services.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from reliatic_appliance.metrics import AppMetrics
from reliatic_appliance.ports import ControlDb, TenantDb, TenantDirectory
from reliatic_appliance.scheduler import housekeeping
from reliatic_appliance.scheduler.dispatch import Dispatcher
from reliatic_appliance.scheduler.send import Records, Sender, open_session
from reliatic_appliance.secretbox import SecretBox
from reliatic_appliance.services import backup_schedule
from reliatic_appliance.services.tenants import list_tenants
from reliatic_appliance.settings import Settings

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

HOUSEKEEPING_EVERY = timedelta(seconds=60)


class Scheduler:
    def __init__(
        self,
        *,
        settings: Settings,
        control: ControlDb,
        tenants: TenantDirectory,
        box: SecretBox,
        clock: Clock,
        metrics: AppMetrics,
    ) -> None:
        self._settings = settings
        self._control = control
        self._tenants = tenants
        self._clock = clock
        # The lease owner of this scheduler's claims: another one (a second process on the
        # same data dir) never sends what this one holds.
        owner = f"scheduler-{uuid.uuid4().hex[:12]}"
        self._records = Records()
        self._sender = Sender(
            settings=settings,
            box=box,
            clock=clock,
            owner=owner,
            records=self._records,
            metrics=metrics,
        )
        self._dispatcher = Dispatcher(
            settings=settings, clock=clock, owner=owner, sender=self._sender, records=self._records
        )
        self._next_housekeeping: datetime | None = None
        self._next_backup: datetime | None = None
        self._backup_task: asyncio.Task[Any] | None = None
        self.last_tick: datetime | None = None
        # When the run loop began, and whether it has ended (however it ended): readiness
        # must not report a scheduler that died before its first tick as alive.
        self._started_at: datetime | None = None
        self._stopped = False
        # Set by `stop()`: the loop ends at its next turn even if the task's cancellation
        # was lost (module doc of `stop`).
        self._stopping = False

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

    def stop(self) -> None:
        """Ask the loop to end; the app's cleanup then cancels the task as well.

        The flag is what makes the end certain: a cancellation that lands just as the
        loop's wait completes can be lost (asyncio.wait_for before Python 3.12 swallows it
        then), and a task that goes on ticking would hold the app's shutdown forever (a CI
        run hung so in a test's teardown)."""
        self._stopping = True
        self._dispatcher.wake.set()

    async def _loop(self) -> None:
        wake = self._dispatcher.wake
        async with open_session(self._settings) as session:
            self._sender.session = session
            try:
                while not self._stopping:
                    wake.clear()
                    try:
                        await self.tick()
                    except Exception:
                        log.exception("scheduler tick failed")
                    # Until the next tick, or sooner when a queue drained and more is due.
                    # asyncio.timeout, not wait_for: it passes a cancellation on.
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self._settings.scheduler.tick_seconds):
                            await wake.wait()
            finally:
                if self._backup_task is not None:
                    # Its thread stops at its next step and leaves nothing behind; the
                    # interpreter waits for that at exit, not for a whole copy.
                    self._backup_task.cancel()
                # Rows not started go back, sends in flight end, records already in are written.
                await self._dispatcher.close()
                await self._records.drain()
                self._sender.session = None

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
        housekeeping_due = self._next_housekeeping is None or now >= self._next_housekeeping
        # Opened before the listing: one of these missing from it was removed (only a
        # selftest tenant ever is), so its database can go; one opened later is not judged.
        opened = set(self._tenants.opened())
        tenants = await list_tenants(self._control)
        self._tenants.close_removed(opened - {t["id"] for t in tenants})
        enabled: list[TenantDb] = []
        for tenant in tenants:
            if tenant["disabled_at"] is not None:
                continue
            db = await self._tenants.get(tenant["id"])
            enabled.append(db)
            await self._dispatcher.dispatch(tenant["slug"], db, now)
            if housekeeping_due:
                await housekeeping.run(db, now=now, settings=self._settings)
        # After every tenant's deliveries are under way: its steps wait their turn at the
        # writers, and the next claim should not wait for them.
        for db in enabled:
            await housekeeping.tidy_each_tick(db)
        if housekeeping_due:
            self._next_housekeeping = now + HOUSEKEEPING_EVERY
        self._maybe_start_backup(now)

    def _maybe_start_backup(self, now: datetime) -> None:
        """Start a scheduled backup when one is due and none is running."""
        minutes = self._settings.backup.interval_minutes
        if minutes == 0 or (self._backup_task is not None and not self._backup_task.done()):
            return
        interval = timedelta(minutes=minutes)
        if self._next_backup is None:
            # After a restart, the interval runs from the newest backup already there.
            newest = backup_schedule.newest_verified_backup(
                backup_schedule.backup_root(self._settings)
            )
            self._next_backup = now if newest is None else newest + interval
        if now >= self._next_backup:
            self._next_backup = now + interval
            self._backup_task = asyncio.create_task(self.run_backup(), name="reliatic-backup")

    async def run_backup(self) -> dict[str, Any] | None:
        """Take a scheduled backup now (the tick does this when one is due; tests call it):
        its summary, or None when it failed (logged and alerted by the service)."""
        return await backup_schedule.run_scheduled_backup(
            self._settings, self._control, self._tenants, clock=self._clock
        )

    async def run_housekeeping(self) -> None:
        """Run the periodic jobs now, for every tenant (tests use this)."""
        now = self._clock()
        for tenant in await list_tenants(self._control):
            if tenant["disabled_at"] is None:
                db = await self._tenants.get(tenant["id"])
                await housekeeping.run(db, now=now, settings=self._settings)
                await housekeeping.tidy_each_tick(db)
