"""Admin-panel users and invitations (SPEC §4, §10): create, list, disable, invite, register.

An email names one user in one tenant (a login form has nothing else to tell tenants
apart), so it is unique across control.db. Passwords are kept as argon2id PHC strings only
(services/passwords.py); invitation tokens as their SHA-256, shown once at creation.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from reliatic_appliance.domain.permissions import ROLES
from reliatic_appliance.errors import Conflict, NotFound, ValidationError
from reliatic_appliance.ids import new_id
from reliatic_appliance.ports import ControlDb, ControlTx, UniqueViolation
from reliatic_appliance.services.audit import Who, record_control
from reliatic_appliance.services.paging import Page, PageRequest, read_page
from reliatic_appliance.services.passwords import PasswordHasher, check_policy
from reliatic_appliance.timefmt import format_ts

Row = dict[str, Any]

INVITATION_LIFETIME = timedelta(days=7)  # SPEC §10
REGISTER_PATH = "/admin/register"
# Deliberately loose (one @, no spaces, a dot in the domain): the address is a login name
# here, never mailed to, and real addresses defeat every strict pattern.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_EMAIL = 254


def normalise_email(email: str, *, strict: bool = True) -> str:
    """Trimmed and lower-cased; with `strict`, refused unless it looks like an address."""
    value = email.strip().lower()
    if strict and (len(value) > MAX_EMAIL or not _EMAIL.match(value)):
        raise ValidationError.field("email", "must be an email address, e.g. ann@plant.example")
    return value


def check_role(role: str) -> str:
    if role not in ROLES:
        raise ValidationError.field("role", f"must be one of {', '.join(ROLES)}")
    return role


def public_view(row: Row) -> Row:
    """A user as listings and responses show it: never the password hash."""
    return {
        "id": row["id"],
        "tenant_id": row["tenant_id"],
        "email": row["email"],
        "role": row["role"],
        "created_by": row["created_by"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "disabled_at": row["disabled_at"],
    }


def _insert_user(tx: ControlTx, record: Row) -> None:
    tenant = tx.control.tenant_by_id(record["tenant_id"])
    if tenant is None:
        raise NotFound("Tenant not found.")
    if tenant["disabled_at"] is not None:
        raise Conflict(
            f"Tenant '{tenant['slug']}' is disabled; enable it before adding users.",
            [{"field": "tenant", "message": "disabled"}],
        )
    try:
        tx.users.insert_user(record)
    except UniqueViolation:
        raise Conflict(
            "A user with this email already exists.",
            [{"field": "email", "message": "is already taken"}],
        ) from None


def _new_user(
    *, tenant_id: str, email: str, role: str, password_hash: str, created_by: str | None, now: str
) -> Row:
    return {
        "id": new_id("usr"),
        "tenant_id": tenant_id,
        "email": email,
        "role": role,
        "password_hash": password_hash,
        "created_by": created_by,
        "created_at": now,
        "updated_at": now,
        "disabled_at": None,
    }


async def create_user(
    control: ControlDb,
    hasher: PasswordHasher,
    *,
    tenant_id: str,
    email: str,
    role: str,
    password: str,
    by: Who,
    now: datetime,
) -> Row:
    """A new user of `tenant_id` (`reliatic user create`); 409 if the email is taken."""
    address = normalise_email(email)
    check_role(role)
    check_policy(password)
    record = _new_user(
        tenant_id=tenant_id,
        email=address,
        role=role,
        password_hash=await hasher.hash(password),
        created_by=by.actor,
        now=format_ts(now),
    )

    def write(tx: ControlTx) -> None:
        _insert_user(tx, record)
        shown = {"email": address, "role": role}
        record_control(tx, tenant_id, by.act("user.created", "user", record["id"], shown), now=now)

    await control.write(write)
    return public_view(record)


async def get_user(control: ControlDb, user_id: str, *, tenant_id: str | None) -> Row:
    row = await control.read(lambda tx: tx.users.user_by_id(user_id, tenant_id))
    if row is None:
        raise NotFound(f"User {user_id} not found.")
    return public_view(row)


async def list_users(control: ControlDb, tenant_id: str, page: PageRequest) -> Page:
    return await read_page(
        control,
        lambda tx, limit, offset: (
            tx.users.list_users(tenant_id, limit, offset),
            tx.users.count_users(tenant_id),
        ),
        page,
        lambda tx, rows: [public_view(r) for r in rows],
    )


async def disable_user(
    control: ControlDb, user_id: str, *, tenant_id: str | None, by: Who, now: datetime
) -> Row:
    """Disable (idempotent) and end every session of the user in the same transaction, so
    no request is served on its authority after this returns. `tenant_id` None: the CLI."""

    def write(tx: ControlTx) -> Row:
        row = tx.users.user_by_id(user_id, tenant_id)
        if row is None:
            raise NotFound(f"User {user_id} not found.")
        if tx.users.disable_user(user_id, format_ts(now)):
            ended = tx.sessions.delete_user_sessions(user_id)
            shown = {"email": row["email"], "sessions_ended": ended}
            act = by.act("user.disabled", "user", user_id, shown)
            record_control(tx, row["tenant_id"], act, now=now)
        updated = tx.users.user_by_id(user_id)
        assert updated is not None
        return public_view(updated)

    return await control.write(write)


# -- invitations ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Invitation:
    """A new invitation: its public record and the one-time token (shown once)."""

    record: Row
    token: str

    @property
    def link(self) -> str:
        """The registration page's path with the token, to hand to the invitee."""
        return f"{REGISTER_PATH}?token={self.token}"


def hash_token(token: str) -> bytes:
    """How a one-time token (an invitation's, a session's) is stored: its SHA-256 only."""
    return hashlib.sha256(token.encode("utf-8")).digest()


async def invite(
    control: ControlDb,
    *,
    tenant_id: str,
    role: str,
    email: str | None = None,
    by: Who,
    now: datetime,
) -> Invitation:
    """A one-time registration invitation, valid for 7 days (SPEC §10)."""
    check_role(role)
    address = normalise_email(email) if email else None
    token = secrets.token_urlsafe(32)
    record: Row = {
        "id": new_id("inv"),
        "tenant_id": tenant_id,
        "email": address,
        "role": role,
        "created_by": by.actor,
        "created_at": format_ts(now),
        "expires_at": format_ts(now + INVITATION_LIFETIME),
        "used_at": None,
        "used_by": None,
    }

    def write(tx: ControlTx) -> None:
        tenant = tx.control.tenant_by_id(tenant_id)
        if tenant is None:
            raise NotFound("Tenant not found.")
        if tenant["disabled_at"] is not None:
            raise Conflict(f"Tenant '{tenant['slug']}' is disabled; enable it before inviting.")
        tx.invitations.insert_invitation(record, hash_token(token))
        shown = {"role": role, "email": address, "expires_at": record["expires_at"]}
        act = by.act("invitation.created", "invitation", record["id"], shown)
        record_control(tx, tenant_id, act, now=now)

    await control.write(write)
    return Invitation(record, token)


async def list_invitations(control: ControlDb, tenant_id: str, *, limit: int = 100) -> list[Row]:
    """The tenant's invitations, newest first (never their tokens)."""
    return await control.read(lambda tx: tx.invitations.list_invitations(tenant_id, limit, 0))


def _usable_invitation(tx: ControlTx, token: str, now: datetime) -> Row:
    row = tx.invitations.invitation_by_hash(hash_token(token))
    if row is None:
        raise ValidationError.field(
            "token", "is not a valid invitation; ask your administrator for a new link"
        )
    if row["used_at"] is not None:
        raise ValidationError.field(
            "token", "has already been used; log in, or ask your administrator for a new link"
        )
    if datetime.fromisoformat(row["expires_at"]) <= now:
        raise ValidationError.field(
            "token", "has expired (invitations last 7 days); ask your administrator for a new one"
        )
    return row


async def check_invitation(control: ControlDb, token: str, *, now: datetime) -> Row:
    """The invitation behind `token` if it can still be used (the registration page asks
    before showing its form), else the same 400 `register` would give."""
    return await control.read(lambda tx: _usable_invitation(tx, token, now))


async def register(
    control: ControlDb,
    hasher: PasswordHasher,
    *,
    token: str,
    password: str,
    email: str | None,
    address: str | None,
    now: datetime,
    opened: Callable[[ControlTx, str], str] | None = None,
) -> tuple[Row, str | None]:
    """Create the invited user (the invitation's tenant and role) and mark the invitation
    used, in one transaction. `opened(tx, user_id)` runs in that transaction too (a login:
    services.sessions.open_session) and its result is returned beside the user."""
    check_policy(password)
    invitation = await check_invitation(control, token, now=now)
    fixed = invitation["email"]
    if fixed is None and not email:
        raise ValidationError.field("email", "is required")
    login = normalise_email(email) if email else fixed
    if fixed is not None and login != fixed:
        raise ValidationError.field("email", "must be the address the invitation was made for")
    password_hash = await hasher.hash(password)

    def write(tx: ControlTx) -> tuple[Row, str | None]:
        # Again inside the write: another registration may have used it meanwhile.
        current = _usable_invitation(tx, token, now)
        record = _new_user(
            tenant_id=current["tenant_id"],
            email=login,
            role=current["role"],
            password_hash=password_hash,
            created_by=current["created_by"],
            now=format_ts(now),
        )
        _insert_user(tx, record)
        if not tx.invitations.use_invitation(current["id"], format_ts(now), record["id"]):
            raise Conflict("This invitation has just been used.")
        shown = {"email": login, "role": current["role"], "invitation": current["id"]}
        act = Who(record["id"], address).act("user.registered", "user", record["id"], shown)
        record_control(tx, current["tenant_id"], act, now=now)
        extra = opened(tx, record["id"]) if opened is not None else None
        return public_view(record), extra

    return await control.write(write)
