"""THE route table: one registry drives routing, validation, permissions and OpenAPI.

Each handler module lists its `Operation`s. `install` mounts them on the app, each wrapped
so that the permission check and the query/body validation happen the same way for every
operation, before the handler sees the request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pydantic
from aiohttp import web

from reliatic_appliance.api import etags, idempotency, responses
from reliatic_appliance.api.auth import require_permission
from reliatic_appliance.api.parsing import parse_body, parse_query
from reliatic_appliance.api.request_db import WriteGuards
from reliatic_appliance.api.resources import Resource, Role
from reliatic_appliance.keys import CLOCK, PRINCIPAL, SETTINGS, TENANT_DBS
from reliatic_appliance.ports import TenantDb
from reliatic_appliance.services.api_keys import Principal
from reliatic_appliance.services.audit import Who


@dataclass
class Call:
    """What a handler gets: the validated inputs and who is calling."""

    request: web.Request
    principal: Principal | None
    query: Any
    body: Any
    params: Mapping[str, str]
    # The app clock's reading for this request (keys.CLOCK): every "now" of its rules.
    now: datetime
    # Run inside each write of this request (If-Match, Idempotency-Key; request_db.py).
    guards: WriteGuards = field(default_factory=WriteGuards)

    @property
    def actor(self) -> str | None:
        return self.principal.actor if self.principal else None

    @property
    def who(self) -> Who:
        """The caller as the audit log records it: its key (or user) and client address."""
        return Who(self.require_principal().actor, self.request.remote)

    def require_principal(self) -> Principal:
        assert self.principal is not None, "operation has no permission but needs a tenant"
        return self.principal

    def single(self, data: dict[str, Any], *, status: int = 200) -> web.Response:
        return responses.single(data, now=self.now, status=status)

    def created(self, data: dict[str, Any], collection_path: str) -> web.Response:
        return responses.created(data, collection_path, now=self.now)

    async def tenant_db(self) -> TenantDb:
        """The authenticated tenant's database: the only way a handler reaches tenant data."""
        principal = self.require_principal()
        return self.guards.bind(await self.request.app[TENANT_DBS].get(principal.tenant_id))


Handler = Callable[[Call], Awaitable[web.StreamResponse]]

# SPEC §3: a deprecated endpoint keeps answering for at least 12 months before it goes.
MIN_SUNSET_NOTICE = timedelta(days=365)


@dataclass(frozen=True)
class Deprecation:
    """An operation on its way out of /api/v1 (SPEC §3 versioning): set `deprecated=` on its
    `Operation`, and it answers with `Deprecation` (RFC 9745) and `Sunset` (RFC 8594) and is
    `deprecated: true` in OpenAPI. Record it in CHANGELOG.md too."""

    since: datetime
    sunset: datetime

    def __post_init__(self) -> None:
        if self.sunset - self.since < MIN_SUNSET_NOTICE:
            raise ValueError("a sunset must be at least 12 months after the deprecation")

    def headers(self) -> dict[str, str]:
        return {
            # RFC 9745: a structured-field date, "@" and Unix seconds.
            "Deprecation": f"@{int(self.since.timestamp())}",
            # RFC 8594: an HTTP-date.
            "Sunset": format_datetime(self.sunset.astimezone(UTC), usegmt=True),
        }


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    handler: Handler
    operation_id: str
    summary: str
    tag: str
    permission: str | None = None  # None: public, no key needed
    # Requests that need neither a key nor `permission` (SPEC §3: /metrics from loopback or
    # `[metrics] allow`); every other request to the operation needs both.
    open_to: Callable[[web.Request], bool] | None = None
    query: type[pydantic.BaseModel] | None = None
    body: type[pydantic.BaseModel] | None = None
    response: Any = None  # the 2xx body type (a pydantic model), None for no JSON body
    status: int = 200
    description: str = ""
    path_params: Mapping[str, str] = field(default_factory=dict)
    collection: bool = False
    errors: tuple[int, ...] = ()
    in_schema: bool = True
    deprecated: Deprecation | None = None
    # The resource this operation is about (api/resources.py), what it does to it, and
    # whether its response body is the resource's representation (so carries its ETag).
    resource: Resource | None = None
    role: Role | None = None
    represents: bool = False


def _wrap(op: Operation) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    # SPEC §3, the same for every operation: Idempotency-Key replay around ETags and
    # If-Match/If-None-Match around the handler (api/idempotency.py, api/etags.py). Each
    # layer decides here, once, whether it applies to `op`.
    run = idempotency.idempotent(op, etags.conditional(op, op.handler))
    permission, query_model, body_model = op.permission, op.query, op.body
    open_to = op.open_to

    async def handle(request: web.Request) -> web.StreamResponse:
        principal = request.get(PRINCIPAL)
        if permission is not None and (open_to is None or not open_to(request)):
            require_permission(principal, permission)
        # Without a query string there is nothing to parse (most GETs of one resource): no
        # query mapping is built for them.
        query = (
            parse_query(query_model, request.query)
            if query_model is not None or "?" in request.raw_path
            else None
        )
        body = None
        if body_model is not None:
            max_bytes = request.app[SETTINGS].server.max_body_bytes
            body = await parse_body(body_model, request, max_bytes)
        return await run(
            Call(
                request=request,
                principal=principal,
                query=query,
                body=body,
                params=request.match_info,
                now=request.app[CLOCK](),
            )
        )

    # aiohttp keeps the handler, not our metadata: tag the function (see operation_of).
    handle.operation = op  # type: ignore[attr-defined]  # an attribute on a function
    return handle


def operation_of(request: web.Request) -> Operation | None:
    """The operation a request was routed to (None for 404/405 and static files)."""
    return getattr(request.match_info.handler, "operation", None)


def install(app: web.Application, operations: Iterable[Operation]) -> None:
    for op in operations:
        app.router.add_route(op.method, op.path, _wrap(op), name=op.operation_id)
