"""GET /metrics (SPEC §3): Prometheus text for a loopback client, an address in
`[metrics] allow`, or a key holding `metrics:read`.

Outside /api/v1, like /healthz: a scrape that needs no key is rate-limited per client
address (the middleware's guard), one with a key per key.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from aiohttp import web

from reliatic_appliance.api.routes import Call, Operation
from reliatic_appliance.domain.permissions import Permission
from reliatic_appliance.domain.scrape_access import peer_may_scrape
from reliatic_appliance.keys import CLOCK, CONTROL_DB, METRICS, SETTINGS, TENANT_DBS
from reliatic_appliance.metrics import CONTENT_TYPE
from reliatic_appliance.services import backup_schedule, deliveries
from reliatic_appliance.services.tenants import list_tenants


def trusted_peer(request: web.Request) -> bool:
    """The socket's peer is loopback or in `[metrics] allow`. The transport's peer name, not
    `request.remote`, which a forwarded-headers middleware may rewrite."""
    transport = request.transport
    peer = transport.get_extra_info("peername") if transport is not None else None
    host = peer[0] if isinstance(peer, tuple) and peer else None
    return peer_may_scrape(host, request.app[SETTINGS].metrics.allow)


async def _newest_backup(call: Call) -> datetime | None:
    """The newest verified backup's finish time, for `reliatic_backup_age_seconds`: from the
    manifests in `[backup] dir` (services/backup_schedule.py), read off the loop. None while
    there is none, and the gauge is then left out (metrics.ScrapeTimeCollector)."""
    root = backup_schedule.backup_root(call.request.app[SETTINGS])
    return await asyncio.to_thread(backup_schedule.newest_verified_backup, root)


async def metrics(call: Call) -> web.StreamResponse:
    app = call.request.app
    tenant_dbs = app[TENANT_DBS]
    now = app[CLOCK]()
    pending: dict[str, tuple[int, float]] = {}
    # A key belongs to one tenant: scraping with it shows that tenant's outbox only, never
    # the others' slugs or backlogs. (The machine's own scrapers, on loopback or allowed
    # addresses, see every tenant: they scrape without a principal.)
    only = call.principal.tenant_id if call.principal is not None else None
    # Read at scrape time, one query per tenant (tenants are few), never per request.
    for tenant in await list_tenants(app[CONTROL_DB]):
        if only is not None and tenant["id"] != only:
            continue
        backlog = await deliveries.backlog(await tenant_dbs.get(tenant["id"]), now=now)
        pending[tenant["slug"]] = (backlog.pending, backlog.oldest_age_seconds)
    backup = await _newest_backup(call)
    app_metrics = app[METRICS]
    # Set and rendered with no await between: a concurrent scrape cannot mix its figures in.
    figures = app_metrics.at_scrape
    figures.pending, figures.backup_finished_at, figures.now = pending, backup, now
    return web.Response(
        body=app_metrics.exposition(),
        headers={"Content-Type": CONTENT_TYPE, "Cache-Control": "no-store"},
    )


OPERATIONS = [
    Operation(
        "GET",
        "/metrics",
        metrics,
        operation_id="metrics",
        summary="Prometheus metrics (loopback, [metrics] allow, or metrics:read)",
        tag="Operations",
        permission=Permission.METRICS_READ,
        open_to=trusted_peer,
        in_schema=False,
    ),
]
