"""Authentication of a request, and THE permission check (SPEC §4).

Dual authentication: a Bearer header is checked first; without one, the admin session's
cookie; else 401. A request authenticated by the cookie that changes state must also carry
the session's CSRF token (`X-CSRF-Token` or the form field `csrf_token`), or it is 403:
`check_csrf` is that check, run by the middleware guard for every such request, the panel's
/admin/ forms included. Bearer requests need none (no browser sends them by itself).
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta

from aiohttp import web

from reliatic_appliance.domain.permissions import grants
from reliatic_appliance.errors import Forbidden, InvalidApiKey, Unauthorized, Unavailable
from reliatic_appliance.keys import CLOCK, CONTROL_DB, SESSION, SETTINGS
from reliatic_appliance.ports import ControlDb
from reliatic_appliance.services import api_keys, sessions
from reliatic_appliance.services.api_keys import Principal
from reliatic_appliance.services.sessions import Session, SessionPolicy
from reliatic_appliance.settings import Settings

log = logging.getLogger(__name__)

_BEARER = re.compile(r"^Bearer +(\S+) *$")

SESSION_COOKIE = "reliatic_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
# Starting a session acts on no session's authority, so it needs no CSRF token even when an
# old cookie comes along (the old session ends at login anyway).
CSRF_EXEMPT = frozenset({"/auth/login", "/auth/register"})
# Far longer than our 43-character tokens: anything longer is not one of ours.
_MAX_TOKEN = 128
CSRF_FAILED = (
    "Missing or wrong CSRF token: send the session's token as the X-CSRF-Token header"
    " or the csrf_token form field."
)


async def bearer_principal(request: web.Request, control: ControlDb, now: datetime) -> Principal:
    """The principal of the request's API key, or 401.

    No header, or not `Bearer <token>`: `unauthorized`. A token that is not a live key
    (unknown, revoked, expired, its tenant disabled, or not even key-shaped): exactly the
    `invalid_api_key` body of SPEC §4, the same for every case so nothing can be probed.
    """
    header = request.headers.get("Authorization")
    if header is None:
        raise Unauthorized()
    match = _BEARER.match(header)
    if match is None:
        raise Unauthorized("Malformed Authorization header: expected 'Bearer <API key>'.")
    token = match[1]
    if not api_keys.KEY_PATTERN.match(token):
        raise InvalidApiKey()
    found = await api_keys.authenticate(control, token, now=now)
    if found is None:
        raise InvalidApiKey()
    principal, stale = found
    if stale and principal.key_id is not None:
        try:
            await api_keys.record_use(control, principal.key_id, now=now)
        except Unavailable:
            # Bookkeeping only: a busy control.db must not fail the caller's request.
            log.warning("could not record last_used_at for a key")
    return principal


def require_permission(principal: Principal | None, permission: str) -> Principal:
    """THE permission check: 401 without a principal, 403 naming the missing permission."""
    if principal is None:
        raise Unauthorized()
    if not grants(principal.permissions, permission):
        # SPEC §4's wording for a key; a session's permissions come from the user's role.
        holder = "API key" if principal.key_id is not None else "Your role"
        raise Forbidden(f"{holder} lacks required permission: {permission}")
    return principal


def session_policy(settings: Settings) -> SessionPolicy:
    return SessionPolicy(
        idle=timedelta(minutes=settings.sessions.idle_minutes),
        absolute=timedelta(hours=settings.sessions.absolute_hours),
    )


def session_token(request: web.Request) -> str | None:
    """The session token the request's cookie carries, if it could be one of ours."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token or len(token) > _MAX_TOKEN:
        return None
    return token


async def session_principal(request: web.Request) -> Principal | None:
    """The principal of the request's live session cookie (and `request[SESSION]` set),
    or None: no cookie, or one whose session has ended."""
    token = session_token(request)
    if token is None:
        return None
    app = request.app
    found = await sessions.authenticate(
        app[CONTROL_DB], token, policy=session_policy(app[SETTINGS]), now=app[CLOCK]()
    )
    if found is None:
        return None
    principal, session = found
    request[SESSION] = session
    return principal


async def authenticate(request: web.Request) -> Principal:
    """Dual authentication (SPEC §4): the Bearer key if the header is there, else the
    session cookie, else 401."""
    app = request.app
    if "Authorization" in request.headers:
        return await bearer_principal(request, app[CONTROL_DB], app[CLOCK]())
    if session_token(request) is None:
        raise Unauthorized()
    principal = await session_principal(request)
    if principal is None:
        raise Unauthorized(sessions.SESSION_ENDED)
    return principal


def current_session(request: web.Request) -> Session | None:
    """The admin session behind the request, if the cookie authenticated it. Its
    `csrf_token` is what pages put in `<meta name="csrf-token">` and hidden form fields."""
    return request.get(SESSION)


def require_session(request: web.Request) -> Session:
    """The request's live admin session, or 401 (a panel page sends the browser to log in)."""
    session = current_session(request)
    if session is None:
        raise Unauthorized(sessions.SESSION_ENDED)
    return session


def csrf_token_of(request: web.Request) -> str | None:
    session = current_session(request)
    return session.csrf_token if session else None


async def check_csrf(request: web.Request) -> None:
    """403 `forbidden` unless a cookie-authenticated state-changing request carries its
    session's CSRF token. A no-op for safe methods, Bearer requests and no session."""
    if request.method not in UNSAFE_METHODS or request.path in CSRF_EXEMPT:
        return
    token = session_token(request)
    if token is None or current_session(request) is None:
        return
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.content_type in FORM_TYPES:
        # aiohttp keeps the parsed form, so the handler's own `request.post()` reads it too.
        value = (await request.post()).get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not sessions.csrf_matches(token, sent):
        raise Forbidden(CSRF_FAILED)
