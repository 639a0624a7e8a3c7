"""Public endpoints (SPEC §3): health, readiness, the OpenAPI document and its docs page."""

from __future__ import annotations

import logging
from importlib import resources

from aiohttp import web

from reliatic_appliance.api.responses import json_response
from reliatic_appliance.api.routes import Call, Operation
from reliatic_appliance.errors import Unavailable
from reliatic_appliance.keys import CLOCK, CONTROL_DB, OPENAPI_DOCUMENT, SCHEDULER, TENANT_DBS
from reliatic_appliance.schemas.common import HealthStatus

log = logging.getLogger(__name__)

# The docs page loads only our own files: nothing may come from the internet (SPEC §10).
_DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


async def healthz(call: Call) -> web.StreamResponse:
    """Liveness: the process answers. Nothing else is checked, so it never flaps."""
    return json_response({"status": "ok"})


async def readyz(call: Call) -> web.StreamResponse:
    """Readiness: control.db and every open tenant file answer, and the scheduler ticks."""
    app = call.request.app
    try:
        await app[CONTROL_DB].ping()
        for db in app[TENANT_DBS].opened().values():
            await db.ping()
    except Unavailable:
        log.warning("not ready: a database did not answer")
        raise Unavailable("Not ready: a database did not answer.") from None
    scheduler = app.get(SCHEDULER)
    if scheduler is not None and not scheduler.alive(app[CLOCK]()):
        log.warning("not ready: the scheduler has stopped ticking")
        raise Unavailable("Not ready: the scheduler is not running.")
    return json_response({"status": "ready"})


async def openapi_json(call: Call) -> web.StreamResponse:
    return web.Response(body=call.request.app[OPENAPI_DOCUMENT], content_type="application/json")


async def docs_page(call: Call) -> web.StreamResponse:
    page = resources.files("reliatic_appliance.api") / "templates" / "docs.html"
    return web.Response(
        text=page.read_text(encoding="utf-8"),
        content_type="text/html",
        headers={"Content-Security-Policy": _DOCS_CSP, "X-Content-Type-Options": "nosniff"},
    )


OPERATIONS = [
    Operation(
        "GET",
        "/healthz",
        healthz,
        operation_id="healthz",
        summary="Liveness",
        tag="Operations",
        response=HealthStatus,
    ),
    Operation(
        "GET",
        "/readyz",
        readyz,
        operation_id="readyz",
        summary="Readiness (databases open)",
        tag="Operations",
        response=HealthStatus,
    ),
    Operation(
        "GET",
        "/api/v1/openapi.json",
        openapi_json,
        operation_id="openapi",
        summary="This OpenAPI 3.1 document",
        tag="Operations",
        in_schema=False,
    ),
    Operation(
        "GET",
        "/api/docs",
        docs_page,
        operation_id="docs",
        summary="Readable API reference (works offline)",
        tag="Operations",
        in_schema=False,
    ),
]
