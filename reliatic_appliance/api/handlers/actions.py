"""`/api/v1/actions` (SPEC §5 Actions, §6 lifecycle): parse → service → respond."""

from __future__ import annotations

from aiohttp import web

from reliatic_appliance.api.pagination import collection, page_request
from reliatic_appliance.api.parsing import fields_sent
from reliatic_appliance.api.resources import Resource
from reliatic_appliance.api.routes import Call
from reliatic_appliance.ports import ActionFilter
from reliatic_appliance.schemas.actions import (
    Action,
    ActionCreate,
    ActionListQuery,
    ActionStatusChange,
    ActionUpdate,
)
from reliatic_appliance.services import actions as service


async def list_actions(call: Call) -> web.StreamResponse:
    q: ActionListQuery = call.query
    flt = ActionFilter(
        status=q.status,
        priority=q.priority,
        assignee_id=q.assignee_id,
        asset_id=q.asset_id,
        overdue=q.overdue,
        updated_since=q.updated_since,
    )
    page = await service.list_actions(
        await call.tenant_db(), flt, q.sort, page_request(q), now=call.now
    )
    return collection(call.request, page)


async def get_action(call: Call) -> web.StreamResponse:
    return call.single(await service.get_action(await call.tenant_db(), call.params["action_id"]))


async def create_action(call: Call) -> web.StreamResponse:
    row = await service.create_action(
        await call.tenant_db(), fields_sent(call.body), actor=call.actor, now=call.now
    )
    return call.created(row, ACTIONS.collection)


async def update_action(call: Call) -> web.StreamResponse:
    row = await service.update_action(
        await call.tenant_db(),
        call.params["action_id"],
        fields_sent(call.body),
        actor=call.actor,
        now=call.now,
    )
    return call.single(row)


async def change_status(call: Call) -> web.StreamResponse:
    body: ActionStatusChange = call.body
    row = await service.change_status(
        await call.tenant_db(),
        call.params["action_id"],
        body.status,
        body.comment,
        actor=call.actor,
        now=call.now,
    )
    return call.single(row)


ACTIONS = Resource(
    name="actions",
    noun="action",
    collection="/api/v1/actions",
    param="action_id",
    model=Action,
    load=service.load_action,
    tag="Actions",
)

OPERATIONS = [
    ACTIONS.list(
        list_actions,
        operation_id="listActions",
        summary="List corrective actions",
        description="Paginated, filterable, sortable list of the tenant's actions, each with"
        " its status history.",
        query=ActionListQuery,
    ),
    ACTIONS.create(
        create_action,
        operation_id="createAction",
        summary="Create a corrective action",
        description="New actions are `open`. `asset_id`, `failure_mode_id` and"
        " `inspection_id` must name rows of this tenant; a failure mode or inspection must"
        " belong to `asset_id` when both are given.",
        body=ActionCreate,
    ),
    ACTIONS.get(
        get_action,
        operation_id="getAction",
        summary="Get one corrective action",
        description="With its status history, oldest first.",
    ),
    ACTIONS.write(
        "PUT",
        update_action,
        operation_id="updateAction",
        summary="Update a corrective action (partial)",
        description="Only the fields sent change; `status` changes only through"
        " `PUT /api/v1/actions/{action_id}/status`. A closed or cancelled action can no"
        " longer be changed (409).",
        body=ActionUpdate,
        errors=(409,),
    ),
    ACTIONS.write(
        "PUT",
        change_status,
        operation_id="changeActionStatus",
        summary="Move a corrective action to its next status",
        description="open → in_progress | on_hold | cancelled; in_progress → on_hold |"
        " completed | cancelled; on_hold → in_progress | cancelled; completed → verified |"
        " in_progress (rework); verified → closed. Any other move is 409 and its details"
        " list the allowed next states. Appends to `history` and emits"
        " `action.status_changed`.",
        body=ActionStatusChange,
        errors=(409,),
        suffix="/status",
    ),
]
