"""API keys (SPEC §4): minting, listing, revoking, and authenticating a presented key.

A key is `rl_live_` + 43 URL-safe characters from `secrets` (256 bits). Only its SHA-256
is stored; the full key is returned once, by `create_key`, and never again.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from reliatic_appliance.domain.permissions import (
    PermissionSpecError,
    covers,
    effective_permissions,
)
from reliatic_appliance.errors import Conflict, Forbidden, NotFound, ValidationError
from reliatic_appliance.ids import new_id
from reliatic_appliance.ports import ControlDb, ControlTx
from reliatic_appliance.services.audit import Who, record_control
from reliatic_appliance.services.paging import Page, PageRequest, read_page
from reliatic_appliance.timefmt import format_ts

Row = dict[str, Any]

KEY_PREFIX = "rl_live_"
KEY_PATTERN = re.compile(r"^rl_live_[A-Za-z0-9_-]{32,128}$")
# How stale `last_used_at` may get: one write per key per minute, not one per request.
LAST_USED_RESOLUTION = timedelta(seconds=60)


@dataclass(frozen=True)
class Principal:
    """Who is calling: resolved from a key, or from an admin session (`user_id` set,
    `key_id` None; services/sessions.py)."""

    tenant_id: str
    tenant_slug: str
    key_id: str | None
    permissions: frozenset[str]
    rate_limit_per_minute: int | None
    user_id: str | None = None

    @property
    def actor(self) -> str:
        """The key id or the user id (`usr_…`): who did it, for histories and audit."""
        actor = self.key_id or self.user_id
        assert actor is not None, "a principal is a key or a user"
        return actor


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode("ascii")).digest()


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def public_view(row: Row) -> Row:
    """The listing shape (SPEC §4): metadata and the 12-character prefix, never the key."""
    return {
        "id": row["id"],
        "name": row["name"],
        "prefix": row["prefix"],
        "level": row["level"],
        "permissions": row["permissions"],
        "rate_limit_per_minute": row["rate_limit_per_minute"],
        "created_at": row["created_at"],
        "expires_at": row["expires_at"],
        "last_used_at": row["last_used_at"],
        "revoked_at": row["revoked_at"],
    }


async def create_key(
    control: ControlDb,
    *,
    tenant_id: str,
    name: str,
    level: str,
    scopes: list[str] | tuple[str, ...] = (),
    expires_at: datetime | None = None,
    rate_limit_per_minute: int | None = None,
    creator_permissions: frozenset[str] | None = None,
    by: Who,
    now: datetime,
) -> tuple[Row, str]:
    """Mint a key; return its public view and the full key (to be shown exactly once).

    `creator_permissions` is set when a key mints a key over the API: the new key may not
    hold anything its creator does not, or a key could be used to widen itself.
    """
    try:
        permissions = effective_permissions(level, scopes)
    except PermissionSpecError as exc:
        raise ValidationError.field(exc.field, str(exc)) from exc
    moment = now
    if expires_at is not None:
        if expires_at.tzinfo is None:
            raise ValidationError.field("expires_at", "must include a time zone (e.g. Z)")
        if expires_at <= moment:
            raise ValidationError.field("expires_at", "must be in the future")
    if creator_permissions is not None:
        missing = covers(creator_permissions, permissions)
        if missing:
            raise Forbidden(f"API key lacks required permission: {missing[0]}")
    key = generate_key()
    record: Row = {
        "id": new_id("key"),
        "tenant_id": tenant_id,
        "name": name,
        "prefix": key[:12],
        "level": level,
        "permissions": permissions,
        "rate_limit_per_minute": rate_limit_per_minute,
        "created_by": by.actor,
        "created_at": format_ts(moment),
        "expires_at": format_ts(expires_at) if expires_at else None,
        "last_used_at": None,
        "revoked_at": None,
    }

    def write(tx: ControlTx) -> None:
        # In the transaction, so a tenant disabled meanwhile cannot slip a new key in.
        tenant = tx.control.tenant_by_id(tenant_id)
        if tenant is not None and tenant["disabled_at"] is not None:
            raise Conflict(
                f"Tenant '{tenant['slug']}' is disabled; enable it before creating keys.",
                [{"field": "tenant", "message": "disabled"}],
            )
        tx.control.insert_key(record, hash_key(key))
        shown = {
            "name": name,
            "prefix": record["prefix"],
            "level": level,
            "permissions": sorted(permissions),
            "expires_at": record["expires_at"],
            "rate_limit_per_minute": rate_limit_per_minute,
        }
        record_control(
            tx, tenant_id, by.act("api_key.created", "api_key", record["id"], shown), now=now
        )

    await control.write(write)
    return public_view(record), key


async def list_keys(control: ControlDb, tenant_id: str, page: PageRequest) -> Page:
    return await read_page(
        control,
        lambda tx, limit, offset: (
            tx.control.list_keys(tenant_id, limit, offset),
            tx.control.count_keys(tenant_id),
        ),
        page,
        lambda tx, rows: [public_view(r) for r in rows],
    )


async def revoke_key(
    control: ControlDb, key_id: str, *, tenant_id: str | None, by: Who, now: datetime
) -> Row:
    """Revoke (idempotent); `tenant_id` None only for the operator's CLI."""

    def write(tx: ControlTx) -> Row:
        row = tx.control.key_by_id(key_id, tenant_id)
        if row is None:
            raise NotFound(f"API key {key_id} not found.")
        if tx.control.revoke_key(key_id, format_ts(now)):
            shown = {"name": row["name"], "prefix": row["prefix"]}
            act = by.act("api_key.revoked", "api_key", key_id, shown)
            record_control(tx, row["tenant_id"], act, now=now)
        updated = tx.control.key_by_id(key_id)
        assert updated is not None
        return public_view(updated)

    return await control.write(write)


@dataclass(frozen=True, slots=True)
class _Credential:
    """A live key as authentication needs it, built once per control.db snapshot."""

    principal: Principal
    expires_at: datetime | None
    last_used_at: datetime | None


def _parse_ts(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _credential(tx: ControlTx, key_hash: bytes) -> _Credential | None:
    row = tx.control.key_for_auth(key_hash)
    if row is None or row["revoked_at"] is not None or row["tenant_disabled_at"] is not None:
        return None
    principal = Principal(
        tenant_id=row["tenant_id"],
        tenant_slug=row["tenant_slug"],
        key_id=row["id"],
        permissions=frozenset(row["permissions"]),
        rate_limit_per_minute=row["rate_limit_per_minute"] or row["tenant_rate_limit"],
    )
    return _Credential(principal, _parse_ts(row["expires_at"]), _parse_ts(row["last_used_at"]))


async def authenticate(
    control: ControlDb, key: str, *, now: datetime
) -> tuple[Principal, bool] | None:
    """The principal for a presented key, or None if unknown, revoked, expired or disabled.

    The key is looked up in control.db, or reused only while control.db has not changed
    since (`storage/snapshot.py`), so a key revoked by another process (`reliatic key
    revoke`) is refused on the very next request. The second value says
    whether `last_used_at` is stale enough to be written.
    """
    key_hash = hash_key(key)
    # Without a transaction: on a hit this is one statement (data_version). On a miss the
    # key is read after data_version, so a commit in between is at worst remembered under
    # the older version, which the next request sees has moved: never a stale key.
    found = await control.read(
        lambda tx: tx.control.remembered(
            ("credential", key_hash), lambda: _credential(tx, key_hash)
        ),
        snapshot=False,
    )
    if found is None or (found.expires_at is not None and found.expires_at <= now):
        return None
    last_used = found.last_used_at
    return found.principal, last_used is None or now - last_used >= LAST_USED_RESOLUTION


async def record_use(control: ControlDb, key_id: str, *, now: datetime) -> None:
    await control.write(lambda tx: tx.control.touch_key(key_id, format_ts(now)))
