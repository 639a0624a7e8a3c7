"""The application factory: settings in, a ready `web.Application` out."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from importlib import resources
from pathlib import Path

from aiohttp import web

from reliatic_appliance.admin import render as admin_render
from reliatic_appliance.admin import routes as admin_routes
from reliatic_appliance.admin.once import OneTimeSecrets
from reliatic_appliance.api import middlewares, openapi, routes
from reliatic_appliance.api.access_log import AccessLog
from reliatic_appliance.api.handlers import (
    actions,
    api_keys,
    assets,
    audit,
    events,
    failure_modes,
    inspections,
    meta,
    mocs,
    monitoring,
    risk_assessments,
    sessions,
    webhooks,
)
from reliatic_appliance.api.inflight import InFlight
from reliatic_appliance.api.ratelimit import FixedWindowLimiter
from reliatic_appliance.api.request_ids import RequestIds
from reliatic_appliance.keys import (
    ACCESS_LOG,
    ADDRESS_LIMITER,
    ADMIN_SECRETS,
    ADMIN_TEMPLATES,
    CLOCK,
    CONTROL_DB,
    IDEMPOTENCY_INFLIGHT,
    KEY_LIMITER,
    LOGIN_ACCOUNT_THROTTLE,
    LOGIN_ADDRESS_THROTTLE,
    METRICS,
    OPENAPI_DOCUMENT,
    PASSWORD_HASHER,
    REQUEST_IDS,
    SCHEDULER,
    SECRET_BOX,
    SETTINGS,
    TENANT_DBS,
)
from reliatic_appliance.metrics import AppMetrics
from reliatic_appliance.scheduler.runner import Scheduler
from reliatic_appliance.secretbox import SecretBox
from reliatic_appliance.services import tenants as tenant_service
from reliatic_appliance.services.passwords import PasswordHasher
from reliatic_appliance.settings import Settings
from reliatic_appliance.storage.backends import is_postgresql, open_storage
from reliatic_appliance.storage.layout import hold_data_dir, master_key_file
from reliatic_appliance.timefmt import utc_now

OPERATIONS: list[routes.Operation] = [
    *meta.OPERATIONS,
    *monitoring.OPERATIONS,
    *assets.OPERATIONS,
    *inspections.OPERATIONS,
    *failure_modes.OPERATIONS,
    *actions.OPERATIONS,
    *risk_assessments.OPERATIONS,
    *mocs.OPERATIONS,
    *events.OPERATIONS,
    *webhooks.OPERATIONS,
    *api_keys.OPERATIONS,
    *audit.OPERATIONS,
]


async def _data_dir_lock(app: web.Application) -> AsyncIterator[None]:
    """Hold the data dir (shared) while serving, so `reliatic restore` can tell (SPEC §2)."""
    with hold_data_dir(app[SETTINGS].data_dir, exclusive=False):
        yield


async def _databases(app: web.Application) -> AsyncIterator[None]:
    """Open the backend at start (SQLite: control.db, and every tenant file migrated;
    PostgreSQL: the pool, after the migrations ran as the admin role); close it at exit."""
    settings = app[SETTINGS]
    metrics = app[METRICS]
    observers = {
        "control_observer": metrics.commit_observer("control"),
        "tenant_observer": metrics.commit_observer("tenant"),
    }
    if is_postgresql(settings):
        # Connecting and migrating block: off the loop.
        storage = await asyncio.to_thread(lambda: open_storage(settings, **observers))
    else:
        storage = open_storage(settings, **observers)
    app[CONTROL_DB] = storage.control
    app[TENANT_DBS] = storage.tenants
    try:
        for tenant in await tenant_service.list_tenants(storage.control):
            await storage.tenants.get(tenant["id"])
        yield
    finally:
        if is_postgresql(settings):
            await asyncio.to_thread(storage.close)  # waits for units of work in flight
        else:
            storage.close()


async def _scheduler(app: web.Application) -> AsyncIterator[None]:
    """The webhook/housekeeping scheduler task, alive exactly as long as the app."""
    scheduler = Scheduler(
        settings=app[SETTINGS],
        control=app[CONTROL_DB],
        tenants=app[TENANT_DBS],
        box=app[SECRET_BOX],
        clock=app[CLOCK],
        metrics=app[METRICS],
    )
    app[SCHEDULER] = scheduler
    task = asyncio.create_task(scheduler.run(), name="reliatic-scheduler")
    try:
        yield
    finally:
        scheduler.stop()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _flush_access_log(app: web.Application) -> None:
    app[ACCESS_LOG].flush()


def create_app(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = utc_now,
    run_scheduler: bool = True,
) -> web.Application:
    """The whole server; `clock` and `run_scheduler` exist for tests that drive time."""
    app = web.Application(
        middlewares=[middlewares.front_door],
        client_max_size=settings.server.max_body_bytes,
    )
    app[SETTINGS] = settings
    app[CLOCK] = clock
    app[REQUEST_IDS] = RequestIds()
    app[METRICS] = AppMetrics()
    app[ACCESS_LOG] = AccessLog()
    app[SECRET_BOX] = SecretBox.from_file(master_key_file(settings.data_dir))
    limits = settings.rate_limit
    app[KEY_LIMITER] = FixedWindowLimiter(max_tracked=limits.max_tracked, nodes=limits.nodes)
    app[ADDRESS_LIMITER] = FixedWindowLimiter(max_tracked=limits.max_tracked, nodes=limits.nodes)
    app[IDEMPOTENCY_INFLIGHT] = InFlight()
    app[PASSWORD_HASHER] = PasswordHasher(settings.sessions.hash_concurrency)
    app[LOGIN_ACCOUNT_THROTTLE] = sessions.login_throttle(limits, clock)
    app[LOGIN_ADDRESS_THROTTLE] = sessions.login_throttle(limits, clock)
    app[OPENAPI_DOCUMENT] = openapi.render(OPERATIONS)
    routes.install(app, OPERATIONS)
    sessions.install(app)
    static = Path(str(resources.files("reliatic_appliance.api") / "static"))
    app.router.add_static("/api/static/", static, name="static")
    app[ADMIN_TEMPLATES] = admin_render.environment()
    app[ADMIN_SECRETS] = OneTimeSecrets()
    admin_routes.install(app)
    app.cleanup_ctx.append(_data_dir_lock)
    app.cleanup_ctx.append(_databases)
    app.on_cleanup.append(_flush_access_log)
    if run_scheduler:
        app.cleanup_ctx.append(_scheduler)
    return app
