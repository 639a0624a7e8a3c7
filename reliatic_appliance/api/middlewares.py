"""The one middleware every request passes, in three steps:

1. context — the request id, the access log line, the headers every response carries;
2. errors — THE error path: every exception becomes the SPEC §3 error body;
3. guard — rejects undecodable URLs, authenticates, applies the rate limits.

One middleware, not three: each aiohttp middleware layer costs every request a wrapper
call and a coroutine, and a small GET is a few hundred microseconds in all.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from urllib.parse import unquote_to_bytes

from aiohttp import web

from reliatic_appliance.api.auth import bearer_principal
from reliatic_appliance.api.responses import json_response
from reliatic_appliance.api.routes import operation_of
from reliatic_appliance.errors import (
    CODE_BY_STATUS,
    ApiError,
    InternalError,
    MethodNotAllowed,
    NotFound,
    RateLimited,
    ValidationError,
)
from reliatic_appliance.keys import (
    ACCESS_LOG,
    ADDRESS_LIMITER,
    CONTROL_DB,
    KEY_LIMITER,
    PRINCIPAL,
    RATE_DECISION,
    REQUEST_ID,
    REQUEST_IDS,
    SETTINGS,
)
from reliatic_appliance.logs import key_id_var, request_id_var, tenant_var
from reliatic_appliance.timefmt import utc_now

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

log = logging.getLogger(__name__)

_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
API_PREFIX = "/api/v1/"


@web.middleware
async def front_door(request: web.Request, handler: Handler) -> web.StreamResponse:
    app = request.app
    client_id = request.headers.get("X-Request-Id", "")
    request_id = client_id if _SANE_REQUEST_ID.match(client_id) else app[REQUEST_IDS].next()
    request[REQUEST_ID] = request_id
    tokens = (request_id_var.set(request_id), tenant_var.set(None), key_id_var.set(None))
    started = time.perf_counter()
    status = 500
    try:
        try:
            await guard(request)
            response = await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                status = exc.status
                raise
            response = error_response(request, exc)
        except Exception as exc:
            response = error_response(request, exc)
        status = response.status
        headers = response.headers
        headers["X-Request-Id"] = request_id
        decision = request.get(RATE_DECISION)
        if decision is not None:
            headers.update(decision.headers())
        return response
    finally:
        principal = request.get(PRINCIPAL)
        # The path only: a query string could carry something a client should not have
        # put there, and the log must never hold a key or secret.
        app[ACCESS_LOG].record(
            {
                "tenant": principal.tenant_slug if principal else None,
                "key_id": principal.key_id if principal else None,
                "method": request.method,
                "path": request.path,
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                "remote": request.remote,
            }
        )
        for var, token in zip((request_id_var, tenant_var, key_id_var), tokens, strict=True):
            var.reset(token)


def _from_http_exception(exc: web.HTTPException) -> ApiError:
    if isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = ", ".join(sorted(exc.allowed_methods))
        return MethodNotAllowed(
            f"Method {exc.method} is not allowed here; allowed: {allowed}.",
            headers={"Allow": allowed},
        )
    if isinstance(exc, web.HTTPNotFound):
        return NotFound("No such endpoint.")
    cls = CODE_BY_STATUS.get(exc.status, InternalError)
    return cls()


def error_response(request: web.Request, exc: Exception) -> web.Response:
    """THE error path: the SPEC §3 body for any exception a request raised."""
    if isinstance(exc, ApiError):
        error = exc
    elif isinstance(exc, web.HTTPException):
        error = _from_http_exception(exc)
    else:
        # Logged with its traceback (type and frames only; see logs.py); the client gets
        # the request id to quote, never the exception text.
        log.error("unhandled error", exc_info=exc)
        error = InternalError(
            f"An unexpected error occurred; quote request id {request[REQUEST_ID]}."
        )
    return json_response(error.body(), status=error.status, headers=error.headers)


def _check_utf8(request: web.Request) -> None:
    """Percent-encoded bytes in path or query must decode as UTF-8 (SPEC §3)."""
    raw = request.raw_path
    if "%" not in raw and raw.isascii():
        return  # nothing percent-encoded: nothing to decode (most requests)
    path, _, query = raw.partition("?")
    for part, name in ((path, "path"), (query.replace("+", " "), "query")):
        try:
            unquote_to_bytes(part).decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationError(
                f"The request {name} is not valid UTF-8.",
                [{"field": name, "message": "is not valid UTF-8"}],
            ) from None


def _needs_key(request: web.Request) -> bool:
    op = operation_of(request)
    if op is not None:
        return op.permission is not None
    # Unrouted paths under the API (404/405) answer only to a key: no probing of routes.
    return request.path.startswith(API_PREFIX)


async def guard(request: web.Request) -> None:
    """Authenticate and rate-limit `request`, or raise the error that answers it."""
    app = request.app
    settings = app[SETTINGS]
    address = request.remote or "unknown"
    if not _needs_key(request):
        decision = app[ADDRESS_LIMITER].hit(address, settings.rate_limit.unauthenticated_per_minute)
        request[RATE_DECISION] = decision
        if not decision.allowed:
            raise RateLimited(headers={"Retry-After": str(decision.retry_after)})
        _check_utf8(request)
        return
    try:
        principal = await bearer_principal(request, app[CONTROL_DB], utc_now())
    except ApiError:
        # Failed authentication counts against the client address, more strictly.
        decision = app[ADDRESS_LIMITER].hit(address, settings.rate_limit.unauthenticated_per_minute)
        request[RATE_DECISION] = decision
        if not decision.allowed:
            raise RateLimited(headers={"Retry-After": str(decision.retry_after)}) from None
        raise
    request[PRINCIPAL] = principal
    tenant_var.set(principal.tenant_slug)
    key_id_var.set(principal.key_id)
    limit = principal.rate_limit_per_minute or settings.rate_limit.default_per_minute
    decision = app[KEY_LIMITER].hit(principal.key_id, limit)
    request[RATE_DECISION] = decision
    if not decision.allowed:
        raise RateLimited(headers={"Retry-After": str(decision.retry_after)})
    _check_utf8(request)
