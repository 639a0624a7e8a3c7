"""`/api/v1/webhooks` and the delivery log (SPEC §5 Webhooks, §7). Admin permissions."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from reliatic_appliance.api.pagination import collection, page_request
from reliatic_appliance.api.parsing import fields_sent
from reliatic_appliance.api.resources import Resource
from reliatic_appliance.api.responses import represents
from reliatic_appliance.api.routes import Call, Operation
from reliatic_appliance.keys import SECRET_BOX, SETTINGS
from reliatic_appliance.schemas.common import Collection, Single
from reliatic_appliance.schemas.webhooks import (
    Delivery,
    DeliveryListQuery,
    RotateSecret,
    Webhook,
    WebhookCreate,
    WebhookListQuery,
    WebhookUpdate,
    WebhookWithSecret,
)
from reliatic_appliance.services import webhooks as service
from reliatic_appliance.services.webhooks import target_policy


def _shown_once(response: web.Response, representation: dict[str, Any]) -> web.Response:
    """A response that shows a secret once: no cache may keep it, and its ETag is that of
    the representation a GET returns, not of the secret."""
    response.headers["Cache-Control"] = "no-store"
    return represents(response, representation)


async def list_webhooks(call: Call) -> web.StreamResponse:
    page = await service.list_webhooks(await call.tenant_db(), page_request(call.query))
    return collection(call.request, page)


async def create_webhook(call: Call) -> web.StreamResponse:
    app = call.request.app
    body: WebhookCreate = call.body
    row, secret = await service.create_webhook(
        await call.tenant_db(),
        app[SECRET_BOX],
        target_policy(app[SETTINGS]),
        url=body.url,
        events=list(body.events),
        secret=body.secret,
        enabled=body.enabled,
        description=body.description,
        by=call.who,
        now=call.now,
    )
    return _shown_once(call.created({**row, "secret": secret}, WEBHOOKS.collection), row)


async def get_webhook(call: Call) -> web.StreamResponse:
    return call.single(await service.get_webhook(await call.tenant_db(), call.params["webhook_id"]))


async def update_webhook(call: Call) -> web.StreamResponse:
    app = call.request.app
    row = await service.update_webhook(
        await call.tenant_db(),
        target_policy(app[SETTINGS]),
        call.params["webhook_id"],
        fields_sent(call.body),
        by=call.who,
        now=call.now,
    )
    return call.single(row)


async def delete_webhook(call: Call) -> web.StreamResponse:
    await service.delete_webhook(
        await call.tenant_db(), call.params["webhook_id"], by=call.who, now=call.now
    )
    return web.Response(status=204)


async def rotate_secret(call: Call) -> web.StreamResponse:
    app = call.request.app
    row, secret = await service.rotate_secret(
        await call.tenant_db(),
        app[SECRET_BOX],
        call.params["webhook_id"],
        secret=call.body.secret,
        by=call.who,
        now=call.now,
    )
    return _shown_once(call.single({**row, "secret": secret}), row)


async def test_webhook(call: Call) -> web.StreamResponse:
    delivery = await service.send_test(
        await call.tenant_db(),
        call.params["webhook_id"],
        tenant_slug=call.require_principal().tenant_slug,
        now=call.now,
    )
    return call.single(delivery, status=202)


async def list_deliveries(call: Call) -> web.StreamResponse:
    q: DeliveryListQuery = call.query
    page = await service.list_deliveries(
        await call.tenant_db(), call.params["webhook_id"], status=q.status, page=page_request(q)
    )
    return collection(call.request, page)


async def redeliver(call: Call) -> web.StreamResponse:
    delivery = await service.redeliver(
        await call.tenant_db(), call.params["delivery_id"], by=call.who, now=call.now
    )
    return call.single(delivery, status=202)


WEBHOOKS = Resource(
    name="webhooks",
    noun="subscription",
    collection="/api/v1/webhooks",
    param="webhook_id",
    model=Webhook,
    load=service.load_webhook,
    tag="Webhooks",
)

OPERATIONS = [
    WEBHOOKS.list(
        list_webhooks,
        operation_id="listWebhooks",
        summary="List webhook subscriptions",
        query=WebhookListQuery,
    ),
    WEBHOOKS.create(
        create_webhook,
        operation_id="createWebhook",
        summary="Create a webhook subscription",
        description="The secret (given, or generated as whsec_ + base64) is returned once.",
        body=WebhookCreate,
        response=Single[WebhookWithSecret],
        represents=True,  # its ETag is the representation's, without the secret
    ),
    WEBHOOKS.get(
        get_webhook,
        operation_id="getWebhook",
        summary="Get a webhook subscription",
    ),
    WEBHOOKS.write(
        "PUT",
        update_webhook,
        operation_id="updateWebhook",
        summary="Update a webhook subscription (partial)",
        description="Re-enabling a disabled subscription resets its failure count.",
        body=WebhookUpdate,
    ),
    WEBHOOKS.write(
        "DELETE",
        delete_webhook,
        operation_id="deleteWebhook",
        summary="Remove a webhook subscription",
        description="Its pending deliveries and delivery log go with it.",
        status=204,
    ),
    WEBHOOKS.write(
        "POST",
        rotate_secret,
        operation_id="rotateWebhookSecret",
        summary="Rotate the signing secret",
        description="Returns the new secret once. For 24 h both secrets sign every delivery.",
        body=RotateSecret,
        suffix="/rotate-secret",
        response=Single[WebhookWithSecret],
        represents=True,  # its ETag is the representation's, without the secret
    ),
    WEBHOOKS.write(
        "POST",
        test_webhook,
        operation_id="testWebhook",
        summary="Send a ping",
        description="Queues a `ping` delivery; see the delivery log.",
        suffix="/test",
        response=Single[Delivery],
        status=202,
    ),
    # The delivery log and a delivery: resources of their own with no ETag of their own.
    Operation(
        "GET",
        WEBHOOKS.path + "/deliveries",
        list_deliveries,
        operation_id="listWebhookDeliveries",
        summary="The delivery log",
        description="Newest first: status, every attempt's time, HTTP status or error, duration.",
        tag=WEBHOOKS.tag,
        permission="webhooks:read",
        query=DeliveryListQuery,
        response=Collection[Delivery],
        collection=True,
        path_params=WEBHOOKS.path_params,
    ),
    Operation(
        "POST",
        "/api/v1/webhook-deliveries/{delivery_id}/redeliver",
        redeliver,
        operation_id="redeliverWebhookDelivery",
        summary="Send a delivery again",
        description="Same delivery id (receivers de-duplicate on it); a fresh retry cycle.",
        tag=WEBHOOKS.tag,
        permission="webhooks:write",
        response=Single[Delivery],
        status=202,
        path_params={"delivery_id": "The delivery's id."},
    ),
]
