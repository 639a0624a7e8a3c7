"""The one middleware every request passes, in three steps:

1. context — the request id, the access log line, the headers every response carries;
2. errors — THE error path: every exception becomes the SPEC §3 error body;
3. guard — rejects undecodable URLs, authenticates, applies the rate limits.

One middleware, not three: each aiohttp middleware layer costs every request a wrapper
call and a coroutine, and a small GET is a few hundred microseconds in all.

A request aiohttp's HTTP parser refuses never reaches a middleware; api/protocol.py hands it
to `answer_unserved` here, so it is answered by the same error path with the same headers.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from urllib.parse import unquote_to_bytes

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError, LineTooLong

from reliatic_appliance.api.auth import authenticate, check_csrf, session_principal, session_token
from reliatic_appliance.api.ratelimit import RateDecision
from reliatic_appliance.api.responses import json_response
from reliatic_appliance.api.routes import Operation, operation_of
from reliatic_appliance.errors import (
    CODE_BY_STATUS,
    ApiError,
    HeaderFieldsTooLarge,
    InternalError,
    MethodNotAllowed,
    NotFound,
    RateLimited,
    UriTooLong,
    ValidationError,
)
from reliatic_appliance.keys import (
    ACCESS_LOG,
    ADDRESS_LIMITER,
    KEY_LIMITER,
    METRICS,
    PRINCIPAL,
    RATE_DECISION,
    REQUEST_ID,
    REQUEST_IDS,
    SETTINGS,
)
from reliatic_appliance.logs import RequestContext, request_context
from reliatic_appliance.services.api_keys import Principal

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

log = logging.getLogger(__name__)

_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
API_PREFIX = "/api/v1/"
# The `Server` header: the product, without its version or Python's and aiohttp's (SPEC §3).
SERVER = "Reliatic"


@web.middleware
async def front_door(request: web.Request, handler: Handler) -> web.StreamResponse:
    app = request.app
    client_id = request.headers.get("X-Request-Id", "")
    request_id = client_id if _SANE_REQUEST_ID.match(client_id) else app[REQUEST_IDS].next()
    request[REQUEST_ID] = request_id
    token = request_context.set(RequestContext(request_id))
    started = time.perf_counter()
    status = 500
    # Looked up once here for the guard and the headers (a few calls into aiohttp each time).
    op = operation_of(request)
    try:
        try:
            await guard(request, app, op)
            response = await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                status = exc.status
                raise
            response = error_response(request, exc)
        except Exception as exc:
            response = error_response(request, exc)
        status = response.status
        _stamp(response, request_id, request.get(RATE_DECISION))
        if op is not None and op.deprecated is not None:
            response.headers.update(op.deprecated.headers())  # SPEC §3 versioning
        return response
    finally:
        elapsed = time.perf_counter() - started
        resource = request.match_info.route.resource
        app[METRICS].observe_request(
            request.method,
            resource,
            resource.canonical if resource is not None else None,
            status,
            elapsed,
        )
        principal = request.get(PRINCIPAL)
        # The path only: a query string could carry something a client should not have
        # put there, and the log must never hold a key or secret.
        app[ACCESS_LOG].record(
            {
                "tenant": principal.tenant_slug if principal else None,
                "key_id": principal.key_id if principal else None,
                # A session's user (never its cookie): key_id is null for those.
                "user_id": principal.user_id if principal else None,
                "method": request.method,
                "path": request.path,
                "status": status,
                "duration_ms": round(elapsed * 1000, 3),
                "remote": request.remote,
            }
        )
        request_context.reset(token)


def _stamp(response: web.StreamResponse, request_id: str, decision: RateDecision | None) -> None:
    """The headers every response carries (SPEC §3, §4)."""
    headers = response.headers
    headers["Server"] = SERVER
    headers["X-Request-Id"] = request_id
    if decision is not None:
        decision.stamp(headers)


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
    elif isinstance(exc, HttpProcessingError):
        error = _from_parser_error(exc)
    else:
        # Logged with its traceback (type and frames only; see logs.py); the client gets
        # the request id to quote, never the exception text.
        log.error("unhandled error", exc_info=exc)
        error = InternalError(
            f"An unexpected error occurred; quote request id {request[REQUEST_ID]}."
        )
    return json_response(error.body(), status=error.status, headers=error.headers)


# A request line as aiohttp's pure-Python parser quotes it: a method, then a request target.
_QUOTED_REQUEST_LINE = re.compile(
    rb"^[!#$%&'*+.^_`|~0-9A-Za-z-]+ +(?:/|\*|[A-Za-z][A-Za-z0-9+.-]*://)"
)


def _from_parser_error(exc: HttpProcessingError) -> ApiError:
    """What aiohttp's HTTP parser refused, never quoting the request: aiohttp's own message
    quotes up to 100 bytes of the offending line, which can be a header holding a key."""
    if isinstance(exc, LineTooLong):
        quoted, limit = exc.args[:2]  # (line, limit, actual size)
        # aiohttp raises LineTooLong for the request line and a header alike; only what it
        # quotes tells them apart. Its C parser quotes the request target from its URL
        # buffer, a bytearray, and a header's name or value as bytes; the pure-Python parser
        # (AIOHTTP_NO_EXTENSIONS) quotes the whole line: for the request line, the method
        # and the target. tests/test_protocol.py runs both.
        if isinstance(quoted, bytearray) or (
            isinstance(quoted, bytes) and _QUOTED_REQUEST_LINE.match(quoted)
        ):
            return UriTooLong(f"The request URL is longer than the server accepts ({limit} bytes).")
        return HeaderFieldsTooLarge(
            f"A request header is longer than the server accepts ({limit} bytes)."
        )
    # aiohttp's only signal for "over max_headers" is this message (both parsers).
    if exc.message == "Too many headers received":
        return HeaderFieldsTooLarge("The request has more header fields than the server accepts.")
    return ValidationError("The request is not valid HTTP/1.1.")


def answer_unserved(
    app: web.Application, request: web.Request, status: int, exc: BaseException | None
) -> web.Response:
    """The answer to a request `front_door` did not answer (api/protocol.py): one aiohttp's
    HTTP parser refused (an over-long URL or header, malformed HTTP), or, never expected, one
    whose handling failed outside it. The same error path and headers as any other."""
    started = time.perf_counter()
    refused = isinstance(exc, HttpProcessingError)
    request_id = request.get(REQUEST_ID) or app[REQUEST_IDS].next()
    request[REQUEST_ID] = request_id
    token = request_context.set(RequestContext(request_id))
    try:
        decision = request.get(RATE_DECISION)
        error: Exception = (
            exc if isinstance(exc, Exception) else CODE_BY_STATUS.get(status, InternalError)()
        )
        if refused:
            # Traffic without a (readable) key: limited per client address (SPEC §4).
            decision = app[ADDRESS_LIMITER].hit(
                request.remote or "unknown", app[SETTINGS].rate_limit.unauthenticated_per_minute
            )
            if not decision.allowed:
                app[METRICS].rate_limited_address.inc()
                error = RateLimited(headers={"Retry-After": str(decision.retry_after)})
        response = error_response(request, error)
        _stamp(response, request_id, decision)
        if refused:
            elapsed = time.perf_counter() - started
            app[METRICS].observe_request("", None, None, response.status, elapsed)
            # aiohttp keeps nothing of a request its parser refused: no method or path.
            app[ACCESS_LOG].record(
                {
                    "tenant": None,
                    "key_id": None,
                    "method": None,
                    "path": None,
                    "status": response.status,
                    "duration_ms": round(elapsed * 1000, 3),
                    "remote": request.remote,
                }
            )
    finally:
        request_context.reset(token)
    return response


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


def _needs_key(request: web.Request, op: Operation | None) -> bool:
    if op is not None:
        return op.permission is not None and (op.open_to is None or not op.open_to(request))
    # Unrouted paths under the API (404/405) answer only to a key: no probing of routes.
    return request.path.startswith(API_PREFIX)


async def guard(request: web.Request, app: web.Application, op: Operation | None) -> None:
    """Authenticate and rate-limit `request` (routed to `op`, None if unrouted), or raise the
    error that answers it."""
    if not _needs_key(request, op):
        # Public routes (the panel's pages, /auth/*) see the session if there is a live one:
        # then they count against the user, like any authenticated request (several engineers
        # behind one plant proxy must not share the anonymous per-address budget), and a
        # state-changing request needs its CSRF token. Without one, per address.
        principal = await session_principal(request) if session_token(request) else None
        if principal is None:
            _limit_address(request, app)
            _check_utf8(request)
            return
        _authenticated(request, principal)
        _limit_principal(request, app, principal)
        _check_utf8(request)
        await check_csrf(request)
        return
    try:
        principal = await authenticate(request)
    except ApiError:
        # Failed authentication counts against the client address, more strictly.
        _limit_address(request, app)
        raise
    _authenticated(request, principal)
    _limit_principal(request, app, principal)
    _check_utf8(request)
    await check_csrf(request)


def _limit_address(request: web.Request, app: web.Application) -> None:
    """Traffic without a (valid) key or session: limited per client address (SPEC §4)."""
    per_minute = app[SETTINGS].rate_limit.unauthenticated_per_minute
    decision = app[ADDRESS_LIMITER].hit(request.remote or "unknown", per_minute)
    request[RATE_DECISION] = decision
    if not decision.allowed:
        app[METRICS].rate_limited_address.inc()
        raise RateLimited(headers={"Retry-After": str(decision.retry_after)})


def _limit_principal(request: web.Request, app: web.Application, principal: Principal) -> None:
    """Per key, or per user for a session (ids of the two never collide: key_… and usr_…)."""
    limit = principal.rate_limit_per_minute or app[SETTINGS].rate_limit.default_per_minute
    decision = app[KEY_LIMITER].hit(principal.actor, limit)
    request[RATE_DECISION] = decision
    if not decision.allowed:
        app[METRICS].rate_limited_key.inc()
        raise RateLimited(headers={"Retry-After": str(decision.retry_after)})


def _authenticated(request: web.Request, principal: Principal) -> None:
    request[PRINCIPAL] = principal
    context = request_context.get()
    if context is not None:
        context.tenant = principal.tenant_slug
        context.key_id = principal.key_id
