"""Settings > API Keys (SPEC §10): list, create (the key shown once), revoke with a
confirmation step. The same service as `/api/v1/api-keys` and `reliatic key`."""

from __future__ import annotations

import datetime

from aiohttp import web

from reliatic_appliance.admin.render import PageCall, page, redirect
from reliatic_appliance.domain.permissions import (
    ADMIN_PERMISSIONS,
    DOMAIN_PERMISSIONS,
    LEVELS,
    effective_permissions,
)
from reliatic_appliance.errors import NotFound, ValidationError
from reliatic_appliance.keys import ADMIN_SECRETS, CONTROL_DB
from reliatic_appliance.services import api_keys as service
from reliatic_appliance.services.paging import PageRequest

BASE = "/admin/settings/api-keys"
# A tenant has tens of keys, not thousands: one page holds them all.
LIST_SIZE = 200
NOTICES = {"revoked": "The key is revoked. Requests with it are refused from now on."}


def scope_summary(level: str, permissions: list[str]) -> tuple[bool, list[str]]:
    """(every domain resource at the key's level?, the permissions worth listing): a key
    of the whole level reads "All resources" and then only its administration rights."""
    whole = set(effective_permissions(level, []))
    if whole <= set(permissions):
        return True, [p for p in permissions if p not in whole]
    return False, permissions


async def _list(call: PageCall, *, status: int = 200, error: str | None = None) -> web.Response:
    keys = await service.list_keys(
        call.request.app[CONTROL_DB],
        call.viewer.principal.tenant_id,
        PageRequest(per_page=LIST_SIZE),
    )
    return call.render(
        "api_keys.html",
        status=status,
        title="API keys",
        keys=[{**k, "scope": scope_summary(k["level"], k["permissions"])} for k in keys.items],
        total=keys.total,
        levels=LEVELS,
        domain_permissions=DOMAIN_PERMISSIONS,
        admin_permissions=ADMIN_PERMISSIONS,
        error=error,
        form=call.form if error else {},
        notice=NOTICES.get(call.field("done")),
        today=call.now.date(),
    )


@page(admin=True)
async def list_keys(call: PageCall) -> web.StreamResponse:
    return await _list(call)


def _expiry(text: str) -> datetime.datetime | None:
    """An expiry date from the form: the key works through that day (UTC)."""
    if not text:
        return None
    try:
        day = datetime.date.fromisoformat(text)
    except ValueError:
        raise ValidationError.field("expires_at", "must be a date like 2027-12-31") from None
    return datetime.datetime.combine(
        day + datetime.timedelta(days=1), datetime.time(), datetime.UTC
    )


@page(admin=True)
async def create_key(call: PageCall) -> web.StreamResponse:
    name = call.field("name")
    try:
        if not name or len(name) > 100:
            raise ValidationError.field("name", "give the key a name of 1 to 100 characters")
        scopes = [s for s in call.form.getall("scopes", []) if isinstance(s, str)]
        record, key = await service.create_key(
            call.request.app[CONTROL_DB],
            tenant_id=call.viewer.principal.tenant_id,
            name=name,
            level=call.field("level"),
            scopes=scopes,
            expires_at=_expiry(call.field("expires")),
            by=call.who,
            now=call.now,
        )
    except ValidationError as exc:
        detail = "; ".join(f"{d['field']}: {d['message']}" for d in exc.details) or exc.message
        return await _list(call, status=400, error=detail)
    token = call.request.app[ADMIN_SECRETS].put(
        call.viewer.user_id, {"key": key, "record": record}, now=call.now
    )
    raise redirect(f"{BASE}/created?once={token}")


@page(admin=True)
async def created_key(call: PageCall) -> web.StreamResponse:
    shown = call.request.app[ADMIN_SECRETS].take(
        call.viewer.user_id, call.field("once"), now=call.now
    )
    return call.render("api_key_created.html", title="API key created", shown=shown)


async def _key(call: PageCall) -> dict[str, object]:
    keys = await service.list_keys(
        call.request.app[CONTROL_DB],
        call.viewer.principal.tenant_id,
        PageRequest(per_page=LIST_SIZE),
    )
    for key in keys.items:
        if key["id"] == call.request.match_info["key_id"]:
            return key
    raise NotFound("No such key.")


@page(admin=True)
async def confirm_revoke(call: PageCall) -> web.StreamResponse:
    return call.render("api_key_revoke.html", title="Revoke API key", key=await _key(call))


@page(admin=True)
async def revoke_key(call: PageCall) -> web.StreamResponse:
    await service.revoke_key(
        call.request.app[CONTROL_DB],
        call.request.match_info["key_id"],
        tenant_id=call.viewer.principal.tenant_id,
        by=call.who,
        now=call.now,
    )
    raise redirect(f"{BASE}?done=revoked")
