"""Admin-panel sessions (SPEC §4): login, the session behind a cookie, logout.

A session token is 256 bits from `secrets`, given to the browser once (the cookie) and
stored only as its SHA-256. Every login makes a new one (rotation); logout and disabling
the user delete the row, so the old cookie is refused at once. A session also ends after
`idle` without a request and `absolute` after login, whichever comes first.

The CSRF token is an HMAC of a fixed label keyed with the session token: bound to the
session, different for every session, never stored, and worthless without the cookie.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from reliatic_appliance.domain.permissions import role_permissions
from reliatic_appliance.errors import Unauthorized
from reliatic_appliance.ids import new_id
from reliatic_appliance.ports import ControlDb, ControlTx
from reliatic_appliance.services import users
from reliatic_appliance.services.api_keys import Principal
from reliatic_appliance.services.audit import Who, record_control
from reliatic_appliance.services.passwords import PasswordHasher
from reliatic_appliance.services.users import normalise_email, public_view
from reliatic_appliance.timefmt import format_ts

Row = dict[str, Any]

# The one message for an unknown email and a wrong password alike (SPEC §4).
LOGIN_FAILED = "The email or password is incorrect."
SESSION_ENDED = "Your session has ended or expired; log in again."
# How stale `last_seen_at` may get: one write per session per minute, not one per request.
LAST_SEEN_RESOLUTION = timedelta(seconds=60)
_CSRF_LABEL = b"reliatic csrf v1"


@dataclass(frozen=True)
class SessionPolicy:
    """The two timeouts (settings `[sessions] idle_minutes, absolute_hours`)."""

    idle: timedelta
    absolute: timedelta


@dataclass(frozen=True)
class Session:
    """The session behind a request: who, and the CSRF token its forms must carry."""

    session_id: str
    user_id: str
    email: str
    role: str
    tenant_id: str
    tenant_slug: str
    csrf_token: str


@dataclass(frozen=True)
class Login:
    """A successful login: the user, and the new session's token (the cookie) and CSRF."""

    user: Row
    token: str
    csrf_token: str


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def csrf_token(session_token: str) -> str:
    mac = hmac.new(session_token.encode("utf-8"), _CSRF_LABEL, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def csrf_matches(session_token: str, sent: str | None) -> bool:
    """Is `sent` the CSRF token of this session? In constant time."""
    if not sent:
        return False
    return hmac.compare_digest(sent.encode("utf-8"), csrf_token(session_token).encode("ascii"))


def open_session(
    tx: ControlTx,
    user_id: str,
    policy: SessionPolicy,
    *,
    who: Who,
    tenant_id: str,
    now: datetime,
) -> str:
    """A new session for `user_id` inside the caller's transaction, audited as
    `session.login`; returns its token.

    Sessions past either timeout are purged here: a login is rare enough to pay for it, and
    the table then only holds sessions that may still be used.
    """
    tx.sessions.purge_sessions(now=format_ts(now), idle_before=format_ts(now - policy.idle))
    token = secrets.token_urlsafe(32)
    session_id = new_id("ses")
    tx.sessions.insert_session(
        {
            "id": session_id,
            "user_id": user_id,
            "created_at": format_ts(now),
            "last_seen_at": format_ts(now),
            "expires_at": format_ts(now + policy.absolute),
        },
        hash_token(token),
    )
    act = who.act("session.login", "user", user_id, {"session": session_id})
    record_control(tx, tenant_id, act, now=now)
    return token


async def login(
    control: ControlDb,
    hasher: PasswordHasher,
    *,
    email: str,
    password: str,
    policy: SessionPolicy,
    address: str | None,
    previous_token: str | None = None,
    now: datetime,
) -> Login:
    """Check the password and open a new session, or raise 401 `unauthorized`.

    Unknown email, wrong password, disabled user or disabled tenant: one error, one message,
    one password hash spent each (no timing oracle). The session the browser held before,
    if any, ends here: a login always rotates the session. A failure for an email that
    exists is in its tenant's audit log (SPEC §5), with why; nobody else's is.
    """
    login_name = normalise_email(email, strict=False)
    user = await control.read(lambda tx: tx.users.user_by_email(login_name))
    matches = await hasher.verify(password, user["password_hash"] if user else None)
    if user is None:
        raise Unauthorized(LOGIN_FAILED)
    who = Who(user["id"], address)
    refusal = (
        "wrong password"
        if not matches
        else "user disabled"
        if user["disabled_at"] is not None
        else "tenant disabled"
        if user["tenant_disabled_at"] is not None
        else None
    )
    if refusal is not None:
        act = who.act("session.login_failed", "user", user["id"], {"reason": refusal})
        await control.write(lambda tx: record_control(tx, user["tenant_id"], act, now=now))
        raise Unauthorized(LOGIN_FAILED)

    def write(tx: ControlTx) -> str:
        if previous_token:
            old = tx.sessions.session_for_auth(hash_token(previous_token))
            if old is not None:
                tx.sessions.delete_session(old["id"])
        return open_session(tx, user["id"], policy, who=who, tenant_id=user["tenant_id"], now=now)

    token = await control.write(write)
    return Login(public_view(user), token, csrf_token(token))


def is_live(row: Row, policy: SessionPolicy, now: datetime) -> bool:
    """Within both timeouts, its user and tenant enabled."""
    return (
        row["disabled_at"] is None
        and row["tenant_disabled_at"] is None
        and datetime.fromisoformat(row["expires_at"]) > now
        and datetime.fromisoformat(row["last_seen_at"]) + policy.idle > now
    )


async def authenticate(
    control: ControlDb, token: str, *, policy: SessionPolicy, now: datetime
) -> tuple[Principal, Session] | None:
    """The principal and session behind a cookie's token, or None if it is not a live one.

    Keeps `last_seen_at` (the idle timeout's clock) to the minute: one write a minute per
    session, not one per request.
    """
    key = hash_token(token)
    row = await control.read(lambda tx: tx.sessions.session_for_auth(key), snapshot=False)
    if row is None or not is_live(row, policy, now):
        return None
    if now - datetime.fromisoformat(row["last_seen_at"]) >= LAST_SEEN_RESOLUTION:
        await control.write(lambda tx: tx.sessions.touch_session(row["id"], format_ts(now)))
    principal = Principal(
        tenant_id=row["tenant_id"],
        tenant_slug=row["tenant_slug"],
        key_id=None,
        permissions=role_permissions(row["role"]),
        rate_limit_per_minute=row["tenant_rate_limit"],
        user_id=row["user_id"],
    )
    session = Session(
        session_id=row["id"],
        user_id=row["user_id"],
        email=row["email"],
        role=row["role"],
        tenant_id=row["tenant_id"],
        tenant_slug=row["tenant_slug"],
        csrf_token=csrf_token(token),
    )
    return principal, session


async def logout(
    control: ControlDb, session: Session, *, address: str | None, now: datetime
) -> None:
    """End the session on the server: its cookie is refused from the next request on."""

    def write(tx: ControlTx) -> None:
        if tx.sessions.delete_session(session.session_id):
            shown = {"session": session.session_id}
            act = Who(session.user_id, address).act(
                "session.logout", "user", session.user_id, shown
            )
            record_control(tx, session.tenant_id, act, now=now)

    await control.write(write)


def require_live(found: tuple[Principal, Session] | None) -> tuple[Principal, Session]:
    if found is None:
        raise Unauthorized(SESSION_ENDED)
    return found


async def register(
    control: ControlDb,
    hasher: PasswordHasher,
    *,
    token: str,
    password: str,
    email: str | None,
    policy: SessionPolicy,
    address: str | None,
    now: datetime,
) -> Login:
    """Register with an invitation and log in, in one transaction (SPEC §4)."""

    def opened(tx: ControlTx, user_id: str) -> str:
        user = tx.users.user_by_id(user_id)
        assert user is not None
        who = Who(user_id, address)
        return open_session(tx, user_id, policy, who=who, tenant_id=user["tenant_id"], now=now)

    user, session_token = await users.register(
        control,
        hasher,
        token=token,
        password=password,
        email=email,
        address=address,
        now=now,
        opened=opened,
    )
    assert session_token is not None
    return Login(user, session_token, csrf_token(session_token))
