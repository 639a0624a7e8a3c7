"""`/auth/login`, `/auth/logout`, `/auth/register` (SPEC §4): the admin panel's sessions.

Each takes JSON or an HTML form. JSON callers get the SPEC's JSON answers; a browser that
posted a form is redirected (303) either into the panel or back to the page it came from
with `?error=…`, so the panel works without JavaScript. These routes are outside /api/v1
and not API operations (no Bearer key, cookies, redirects), so they are plain routes, not
in the OpenAPI document.

Login is throttled per account and per client address (SPEC §4): after 10 failures in a
15-minute window, 429 until the window ends, even for the right password. Only failures
count, in api/ratelimit.py's bounded fixed windows (aligned to the quarter hour), so memory
stays flat however many emails and addresses are tried; the price of fixed windows is that
up to 20 guesses can straddle a boundary, still 10 per quarter hour on average.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar
from urllib.parse import urlencode

import pydantic
from aiohttp import web

from reliatic_appliance.api.auth import (
    CSRF_FIELD,
    FORM_TYPES,
    SESSION_COOKIE,
    current_session,
    require_session,
    session_policy,
    session_token,
)
from reliatic_appliance.api.parsing import parse_body
from reliatic_appliance.api.ratelimit import FixedWindowLimiter
from reliatic_appliance.api.responses import json_response
from reliatic_appliance.errors import (
    ApiError,
    RateLimited,
    Unauthorized,
    UnsupportedMediaType,
    ValidationError,
)
from reliatic_appliance.keys import (
    CLOCK,
    CONTROL_DB,
    LOGIN_ACCOUNT_THROTTLE,
    LOGIN_ADDRESS_THROTTLE,
    PASSWORD_HASHER,
    SETTINGS,
)
from reliatic_appliance.schemas.sessions import LoginBody, RegisterBody
from reliatic_appliance.services import sessions
from reliatic_appliance.services.users import normalise_email
from reliatic_appliance.settings import RateLimitSettings
from reliatic_appliance.timefmt import format_meta_ts

M = TypeVar("M", bound=pydantic.BaseModel)

# The admin panel's prefix (admin/render.py shares it).
PANEL = "/admin/"
LOGIN_PAGE = "/admin/login"
REGISTER_PAGE = "/admin/register"
# SPEC §4: 10 failures in 15 minutes.
LOGIN_FAILURES = 10
LOGIN_WINDOW_SECONDS = 15 * 60


def login_throttle(limits: RateLimitSettings, clock: Callable[[], datetime]) -> FixedWindowLimiter:
    """A failed-login counter on the app's clock (`clock()` -> datetime). Per node, like the
    request limits: with `[rate_limit] nodes` each node admits its share of the failures, so
    a guesser spreading attempts over the nodes still gets LOGIN_FAILURES in all (SPEC §11)."""
    return FixedWindowLimiter(
        window_seconds=LOGIN_WINDOW_SECONDS,
        max_tracked=limits.max_tracked,
        clock=lambda: clock().timestamp(),
        nodes=limits.nodes,
    )


def _is_form(request: web.Request) -> bool:
    return request.content_type in FORM_TYPES


async def _body(request: web.Request, model: type[M]) -> M:
    """The body as `model`, from JSON or from form fields (less the CSRF field)."""
    if request.content_type == "application/json":
        return await parse_body(model, request, request.app[SETTINGS].server.max_body_bytes)
    if not _is_form(request):
        # parse_body's 415 would name JSON alone; these endpoints take a browser's form too.
        raise UnsupportedMediaType(
            "Content-Type must be application/json or a form"
            f" (application/x-www-form-urlencoded), not '{request.content_type}'."
        )
    form = await request.post()
    # An empty form field is a field not filled in: absent, so an optional one is None.
    fields = {
        name: value
        for name, value in form.items()
        if name != CSRF_FIELD and isinstance(value, str) and value
    }
    try:
        return model.model_validate(fields)
    except pydantic.ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        field = ".".join(str(p) for p in first["loc"]) or "body"
        raise ValidationError.field(field, "is missing or not valid") from None


def _redirect(location: str) -> web.Response:
    # A Response, not a raised HTTPSeeOther, so the middleware stamps it like any other.
    return web.Response(status=303, headers={"Location": location})


def _set_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    # No Max-Age: the browser forgets it when it closes; the server ends it anyway after
    # the idle and absolute timeouts. `Secure` when the request came over TLS.
    response.set_cookie(
        SESSION_COOKIE, token, path="/", httponly=True, samesite="Strict", secure=request.secure
    )


def _clear_cookie(request: web.Request, response: web.StreamResponse) -> None:
    response.del_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="Strict", secure=request.secure
    )


def _logged_in(request: web.Request, login: sessions.Login, *, status: int = 200) -> web.Response:
    if _is_form(request):
        response = _redirect(PANEL)
    else:
        response = json_response(
            {
                "data": {"user": login.user, "csrf_token": login.csrf_token},
                "meta": {"timestamp": format_meta_ts(request.app[CLOCK]())},
            },
            status=status,
        )
    _set_cookie(request, response, login.token)
    # The body holds the CSRF token and the headers a session cookie: no cache keeps them.
    response.headers["Cache-Control"] = "no-store"
    return response


def _throttled(request: web.Request, email: str) -> RateLimited | None:
    """The 429 to answer if this account or this address has failed too often."""
    app = request.app
    decisions = (
        app[LOGIN_ACCOUNT_THROTTLE].peek(email, LOGIN_FAILURES),
        app[LOGIN_ADDRESS_THROTTLE].peek(request.remote or "unknown", LOGIN_FAILURES),
    )
    refused = [d for d in decisions if not d.allowed]
    if not refused:
        return None
    wait = max(d.retry_after for d in refused)
    return RateLimited(
        f"Too many failed logins; try again in {wait} seconds.",
        headers={"Retry-After": str(wait)},
    )


def _count_failure(request: web.Request, email: str) -> None:
    app = request.app
    app[LOGIN_ACCOUNT_THROTTLE].hit(email, LOGIN_FAILURES)
    app[LOGIN_ADDRESS_THROTTLE].hit(request.remote or "unknown", LOGIN_FAILURES)


async def login(request: web.Request) -> web.StreamResponse:
    form = _is_form(request)
    try:
        body = await _body(request, LoginBody)
    except ApiError:
        if form:
            return _redirect(f"{LOGIN_PAGE}?error=credentials")
        raise
    email = normalise_email(body.email, strict=False)
    refused = _throttled(request, email)
    if refused is not None:
        if form:
            return _redirect(f"{LOGIN_PAGE}?error=throttled")
        raise refused
    app = request.app
    try:
        done = await sessions.login(
            app[CONTROL_DB],
            app[PASSWORD_HASHER],
            email=email,
            password=body.password,
            policy=session_policy(app[SETTINGS]),
            address=request.remote,
            previous_token=session_token(request),
            now=app[CLOCK](),
        )
    except Unauthorized:
        _count_failure(request, email)
        if form:
            return _redirect(f"{LOGIN_PAGE}?error=credentials")
        raise
    return _logged_in(request, done)


async def logout(request: web.Request) -> web.StreamResponse:
    """End the session (the guard has checked its CSRF token); 401 without a live one."""
    if current_session(request) is None and _is_form(request):
        return _redirect(LOGIN_PAGE)
    session = require_session(request)
    await sessions.logout(
        request.app[CONTROL_DB], session, address=request.remote, now=request.app[CLOCK]()
    )
    if _is_form(request):
        response: web.Response = _redirect(LOGIN_PAGE)
    else:
        response = web.Response(status=204)
    _clear_cookie(request, response)
    return response


async def register(request: web.Request) -> web.StreamResponse:
    form = _is_form(request)
    app = request.app
    token = ""
    try:
        body = await _body(request, RegisterBody)
        token = body.token
        done = await sessions.register(
            app[CONTROL_DB],
            app[PASSWORD_HASHER],
            token=body.token,
            password=body.password,
            email=body.email,
            policy=session_policy(app[SETTINGS]),
            address=request.remote,
            now=app[CLOCK](),
        )
    except ApiError as exc:
        if not form:
            raise
        if not token:
            posted = await request.post()
            value = posted.get("token")
            token = value if isinstance(value, str) else ""
        query = urlencode({"token": token, "error": _register_error(exc)})
        return _redirect(f"{REGISTER_PAGE}?{query}")
    return _logged_in(request, done, status=201)


def _register_error(exc: ApiError) -> str:
    """A short code the registration page turns into a message."""
    field = exc.details[0].get("field") if exc.details else None
    if field == "token":
        return "invitation"
    if field in ("password", "email"):
        return str(field)
    if exc.status == 409:
        return "email"
    return "invalid"


def install(app: web.Application) -> None:
    app.router.add_post("/auth/login", login, name="login")
    app.router.add_post("/auth/logout", logout, name="logout")
    app.router.add_post("/auth/register", register, name="register")
