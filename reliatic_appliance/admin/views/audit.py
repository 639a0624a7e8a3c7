"""Audit (SPEC §5, §10): the tenant's audit log newest first, filterable by actor and action,
with the result of the hash-chain check. The same services as `/api/v1/audit-log` and
`reliatic audit verify`."""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from reliatic_appliance.admin.render import PageCall, page
from reliatic_appliance.keys import CONTROL_DB
from reliatic_appliance.ports import AuditFilter
from reliatic_appliance.services import api_keys, audit, users
from reliatic_appliance.services.paging import PageRequest

PER_PAGE = 25
NAMES_LIMIT = 500


async def _names(call: PageCall) -> dict[str, str]:
    """Actor ids as people read them: a user's email, a key's name."""
    control = call.request.app[CONTROL_DB]
    tenant_id = call.viewer.principal.tenant_id
    people = await users.list_users(control, tenant_id, PageRequest(per_page=NAMES_LIMIT))
    keys = await api_keys.list_keys(control, tenant_id, PageRequest(per_page=NAMES_LIMIT))
    names = {u["id"]: u["email"] for u in people.items}
    names.update({k["id"]: f"API key “{k['name']}”" for k in keys.items})
    names["scheduler"] = "The scheduler"
    return names


def actor_name(actor: str, names: dict[str, str]) -> str:
    if actor in names:
        return names[actor]
    if actor.startswith("cli:"):
        return f"Command line ({actor[4:]})"
    return actor


@page(admin=True)
async def audit_page(call: PageCall) -> web.StreamResponse:
    control = call.request.app[CONTROL_DB]
    db = await call.tenant_db()
    tenant_id = call.viewer.principal.tenant_id
    actor = call.field("actor")[:200] or None
    action = call.field("action")[:100] or None
    number = call.field("page")
    entries = await audit.list_audit(
        control,
        db,
        tenant_id,
        AuditFilter(actor=actor, action=action),
        "-created_at",
        PageRequest(
            page=int(number) if number.isdigit() and 0 < int(number) < 100_000 else 1,
            per_page=PER_PAGE,
        ),
    )
    check = await audit.verify(control, db, tenant_id)
    kept = {"actor": actor, "action": action}
    query = urlencode({k: v for k, v in kept.items() if v})
    return call.render(
        "audit.html",
        title="Audit log",
        entries=entries,
        check=check,
        names=await _names(call),
        actor_name=actor_name,
        filters=kept,
        query=query,
    )
