"""Settings > Webhooks (SPEC §10): subscriptions, the secret shown once, enable/disable,
a test ping, and each subscription's delivery log with redeliver. Same services as
`/api/v1/webhooks`."""

from __future__ import annotations

from aiohttp import web

from reliatic_appliance.admin.render import PageCall, page, redirect
from reliatic_appliance.api.parsing import parse_values
from reliatic_appliance.domain.event_types import EVENT_TYPES
from reliatic_appliance.errors import ValidationError
from reliatic_appliance.keys import ADMIN_SECRETS, SECRET_BOX, SETTINGS
from reliatic_appliance.schemas.webhooks import WebhookCreate
from reliatic_appliance.services import webhooks as service
from reliatic_appliance.services.paging import PageRequest

BASE = "/admin/settings/webhooks"
LIST_SIZE = 200
DELIVERIES_PER_PAGE = 20
NOTICES = {
    "enabled": "The subscription is enabled.",
    "disabled": "The subscription is disabled: nothing is sent to it until it is enabled.",
    "ping": "A test ping is queued; it appears in the delivery log below within seconds.",
    "redeliver": "The delivery is queued again with the same delivery id.",
}


def _details(exc: ValidationError) -> str:
    return "; ".join(f"{d['field']}: {d['message']}" for d in exc.details) or exc.message


async def _list(call: PageCall, *, status: int = 200, error: str | None = None) -> web.Response:
    hooks = await service.list_webhooks(await call.tenant_db(), PageRequest(per_page=LIST_SIZE))
    return call.render(
        "webhooks.html",
        status=status,
        title="Webhooks",
        hooks=hooks.items,
        total=hooks.total,
        event_types=EVENT_TYPES,
        error=error,
        form=call.form if error else {},
        notice=NOTICES.get(call.field("done")),
    )


@page(admin=True)
async def list_webhooks(call: PageCall) -> web.StreamResponse:
    return await _list(call)


@page(admin=True)
async def create_webhook(call: PageCall) -> web.StreamResponse:
    app = call.request.app
    values = {
        "url": call.field("url"),
        "events": [e for e in call.form.getall("events", []) if isinstance(e, str)],
        "description": call.field("description") or None,
    }
    try:
        body = parse_values(WebhookCreate, values)
        row, secret = await service.create_webhook(
            await call.tenant_db(),
            app[SECRET_BOX],
            service.target_policy(app[SETTINGS]),
            url=body.url,
            events=list(body.events),
            secret=None,
            enabled=True,
            description=body.description,
            by=call.who,
            now=call.now,
        )
    except ValidationError as exc:
        return await _list(call, status=400, error=_details(exc))
    token = app[ADMIN_SECRETS].put(
        call.viewer.user_id, {"secret": secret, "hook": row}, now=call.now
    )
    raise redirect(f"{BASE}/created?once={token}")


@page(admin=True)
async def created_webhook(call: PageCall) -> web.StreamResponse:
    shown = call.request.app[ADMIN_SECRETS].take(
        call.viewer.user_id, call.field("once"), now=call.now
    )
    return call.render("webhook_created.html", title="Webhook created", shown=shown)


@page(admin=True)
async def webhook_page(call: PageCall) -> web.StreamResponse:
    db = await call.tenant_db()
    hook = await service.get_webhook(db, call.request.match_info["webhook_id"])
    number = call.field("page")
    deliveries = await service.list_deliveries(
        db,
        hook["id"],
        status=None,
        page=PageRequest(
            page=int(number) if number.isdigit() and 0 < int(number) < 100_000 else 1,
            per_page=DELIVERIES_PER_PAGE,
        ),
    )
    return call.render(
        "webhook.html",
        title="Webhook deliveries",
        hook=hook,
        deliveries=deliveries,
        notice=NOTICES.get(call.field("done")),
    )


@page(admin=True)
async def set_enabled(call: PageCall) -> web.StreamResponse:
    enabled = call.field("enabled") == "true"
    await service.update_webhook(
        await call.tenant_db(),
        service.target_policy(call.request.app[SETTINGS]),
        call.request.match_info["webhook_id"],
        {"enabled": enabled},
        by=call.who,
        now=call.now,
    )
    raise redirect(f"{BASE}?done={'enabled' if enabled else 'disabled'}")


@page(admin=True)
async def send_test(call: PageCall) -> web.StreamResponse:
    webhook_id = call.request.match_info["webhook_id"]
    await service.send_test(
        await call.tenant_db(),
        webhook_id,
        tenant_slug=call.viewer.principal.tenant_slug,
        now=call.now,
    )
    raise redirect(f"{BASE}/{webhook_id}?done=ping")


@page(admin=True)
async def redeliver(call: PageCall) -> web.StreamResponse:
    webhook_id = call.request.match_info["webhook_id"]
    db = await call.tenant_db()
    delivery = await service.redeliver(
        db, call.request.match_info["delivery_id"], by=call.who, now=call.now
    )
    if delivery["webhook_id"] != webhook_id:
        raise redirect(f"{BASE}/{delivery['webhook_id']}?done=redeliver")
    raise redirect(f"{BASE}/{webhook_id}?done=redeliver")
