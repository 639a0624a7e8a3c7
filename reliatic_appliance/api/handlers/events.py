"""`/api/v1/events` and `/api/v1/alerts` (SPEC §5): catching up without webhooks."""

from __future__ import annotations

from aiohttp import web

from reliatic_appliance.api.pagination import collection, page_request
from reliatic_appliance.api.resources import Resource
from reliatic_appliance.api.routes import Call, Operation
from reliatic_appliance.ports import AlertFilter
from reliatic_appliance.schemas.common import Collection
from reliatic_appliance.schemas.events import Alert, AlertListQuery, Event, EventListQuery
from reliatic_appliance.services import alerts, events


async def list_events(call: Call) -> web.StreamResponse:
    q: EventListQuery = call.query
    page = await events.list_events(
        await call.tenant_db(),
        tenant_slug=call.require_principal().tenant_slug,
        after=q.after,
        event_type=q.type,
        updated_since=q.updated_since,
        page=page_request(q),
    )
    return collection(call.request, page)


async def list_alerts(call: Call) -> web.StreamResponse:
    q: AlertListQuery = call.query
    flt = AlertFilter(
        kind=q.kind,
        resource_type=q.resource_type,
        resource_id=q.resource_id,
        updated_since=q.updated_since,
    )
    return collection(
        call.request, await alerts.list_alerts(await call.tenant_db(), flt, q.sort, page_request(q))
    )


async def get_alert(call: Call) -> web.StreamResponse:
    return call.single(await alerts.get_alert(await call.tenant_db(), call.params["alert_id"]))


ALERTS = Resource(
    name="alerts",
    noun="alert",
    collection="/api/v1/alerts",
    param="alert_id",
    model=Alert,
    load=alerts.load_alert,
    tag="Alerts",
)

OPERATIONS = [
    Operation(
        "GET",
        "/api/v1/events",
        list_events,
        operation_id="listEvents",
        summary="Event feed",
        description=(
            "Every emitted event, oldest first. Poll with `after` = the last id you saw to"
            " catch up after downtime; `type` filters."
        ),
        tag="Events",
        permission="events:read",
        query=EventListQuery,
        response=Collection[Event],
        collection=True,
    ),
    ALERTS.list(
        list_alerts,
        operation_id="listAlerts",
        summary="List alerts",
        description="SLA escalations and disabled webhooks, raised by the scheduler.",
        query=AlertListQuery,
    ),
    ALERTS.get(
        get_alert,
        operation_id="getAlert",
        summary="Get one alert",
        errors=(404,),
    ),
]
