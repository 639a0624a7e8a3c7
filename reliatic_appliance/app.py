"""The application factory: settings in, a ready `web.Application` out."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from importlib import resources
from pathlib import Path

from aiohttp import web

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
    webhooks,
)
from reliatic_appliance.api.inflight import InFlight
from reliatic_appliance.api.ratelimit import FixedWindowLimiter
from reliatic_appliance.api.request_ids import RequestIds
from reliatic_appliance.keys import (
    ACCESS_LOG,
    ADDRESS_LIMITER,
    CLOCK,
    CONTROL_DB,
    IDEMPOTENCY_INFLIGHT,
    KEY_LIMITER,
    METRICS,
    OPENAPI_DOCUMENT,
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
from reliatic_appliance.settings import Settings
from reliatic_appliance.storage.layout import hold_data_dir, master_key_file
from reliatic_appliance.storage.tenancy import TenantDatabases, open_control
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
    """Open control.db and migrate every tenant file at start; close them all at exit."""
    settings = app[SETTINGS]
    timeout = settings.storage.busy_timeout_ms
    metrics = app[METRICS]
    control = open_control(
        settings.data_dir, busy_timeout_ms=timeout, on_commit=metrics.commit_observer("control")
    )
    tenants = TenantDatabases(
        settings.data_dir, busy_timeout_ms=timeout, on_commit=metrics.commit_observer("tenant")
    )
    app[CONTROL_DB] = control
    app[TENANT_DBS] = tenants
    try:
        for tenant in await tenant_service.list_tenants(control):
            await tenants.get(tenant["id"])
        yield
    finally:
        tenants.close()
        control.close()


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
    app[KEY_LIMITER] = FixedWindowLimiter(max_tracked=settings.rate_limit.max_tracked)
    app[ADDRESS_LIMITER] = FixedWindowLimiter(max_tracked=settings.rate_limit.max_tracked)
    app[IDEMPOTENCY_INFLIGHT] = InFlight()
    app[OPENAPI_DOCUMENT] = openapi.render(OPERATIONS)
    routes.install(app, OPERATIONS)
    static = Path(str(resources.files("reliatic_appliance.api") / "static"))
    app.router.add_static("/api/static/", static, name="static")
    app.cleanup_ctx.append(_data_dir_lock)
    app.cleanup_ctx.append(_databases)
    app.on_cleanup.append(_flush_access_log)
    if run_scheduler:
        app.cleanup_ctx.append(_scheduler)
    return app
