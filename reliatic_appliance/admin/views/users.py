"""Users (SPEC §10): invite with a role (the one-time registration link shown once), the
list of users and open invitations, and disable. The same services as `reliatic user`."""

from __future__ import annotations

from aiohttp import web

from reliatic_appliance.admin.render import PageCall, page, redirect
from reliatic_appliance.domain.permissions import ROLES
from reliatic_appliance.errors import ValidationError
from reliatic_appliance.keys import ADMIN_SECRETS, CONTROL_DB
from reliatic_appliance.services import users as service
from reliatic_appliance.services.paging import PageRequest

BASE = "/admin/users"
LIST_SIZE = 200
NOTICES = {"disabled": "The user is disabled and signed out everywhere."}


async def _list(call: PageCall, *, status: int = 200, error: str | None = None) -> web.Response:
    control = call.request.app[CONTROL_DB]
    tenant_id = call.viewer.principal.tenant_id
    people = await service.list_users(control, tenant_id, PageRequest(per_page=LIST_SIZE))
    invitations = await service.list_invitations(control, tenant_id)
    now = call.now.isoformat()
    return call.render(
        "users.html",
        status=status,
        title="Users",
        users=people.items,
        total=people.total,
        # Open ones only: a used or expired invitation is history, not something to act on.
        invitations=[i for i in invitations if i["used_at"] is None and i["expires_at"] > now[:19]],
        roles=ROLES,
        error=error,
        form=call.form if error else {},
        notice=NOTICES.get(call.field("done")),
    )


@page(admin=True)
async def list_users(call: PageCall) -> web.StreamResponse:
    return await _list(call)


@page(admin=True)
async def invite(call: PageCall) -> web.StreamResponse:
    try:
        invitation = await service.invite(
            call.request.app[CONTROL_DB],
            tenant_id=call.viewer.principal.tenant_id,
            role=call.field("role"),
            email=call.field("email") or None,
            by=call.who,
            now=call.now,
        )
    except ValidationError as exc:
        detail = "; ".join(f"{d['field']}: {d['message']}" for d in exc.details) or exc.message
        return await _list(call, status=400, error=detail)
    link = str(call.request.url.with_path("/").with_query(None)).rstrip("/") + invitation.link
    token = call.request.app[ADMIN_SECRETS].put(
        call.viewer.user_id, {"link": link, "invitation": invitation.record}, now=call.now
    )
    raise redirect(f"{BASE}/invited?once={token}")


@page(admin=True)
async def invited(call: PageCall) -> web.StreamResponse:
    shown = call.request.app[ADMIN_SECRETS].take(
        call.viewer.user_id, call.field("once"), now=call.now
    )
    return call.render("user_invited.html", title="Invitation created", shown=shown)


@page(admin=True)
async def disable(call: PageCall) -> web.StreamResponse:
    user_id = call.request.match_info["user_id"]
    if user_id == call.viewer.user_id:
        return await _list(call, status=409, error="You cannot disable your own account.")
    await service.disable_user(
        call.request.app[CONTROL_DB],
        user_id,
        tenant_id=call.viewer.principal.tenant_id,
        by=call.who,
        now=call.now,
    )
    raise redirect(f"{BASE}?done=disabled")
