"""`/api/v1/failure-modes` (SPEC §5 Failure modes, FMEA): parse → service → respond."""

from __future__ import annotations

from aiohttp import web

from reliatic_appliance.api.pagination import collection, page_request
from reliatic_appliance.api.parsing import fields_sent
from reliatic_appliance.api.resources import Resource
from reliatic_appliance.api.routes import Call
from reliatic_appliance.ports import FailureModeFilter
from reliatic_appliance.schemas.failure_modes import (
    FailureMode,
    FailureModeCreate,
    FailureModeListQuery,
    FailureModeUpdate,
)
from reliatic_appliance.services import failure_modes as service


async def list_failure_modes(call: Call) -> web.StreamResponse:
    q: FailureModeListQuery = call.query
    flt = FailureModeFilter(
        asset_id=q.asset_id,
        rpn_min=q.rpn_min,
        rpn_max=q.rpn_max,
        priority=q.priority,
        action_priority=q.action_priority,
        updated_since=q.updated_since,
    )
    page = await service.list_failure_modes(await call.tenant_db(), flt, q.sort, page_request(q))
    return collection(call.request, page)


async def get_failure_mode(call: Call) -> web.StreamResponse:
    return call.single(
        await service.get_failure_mode(await call.tenant_db(), call.params["failure_mode_id"])
    )


async def create_failure_mode(call: Call) -> web.StreamResponse:
    row = await service.create_failure_mode(
        await call.tenant_db(), fields_sent(call.body), now=call.now
    )
    return call.created(row, FAILURE_MODES.collection)


async def update_failure_mode(call: Call) -> web.StreamResponse:
    row = await service.update_failure_mode(
        await call.tenant_db(),
        call.params["failure_mode_id"],
        fields_sent(call.body),
        actor=call.actor,
        now=call.now,
    )
    return call.single(row)


async def delete_failure_mode(call: Call) -> web.StreamResponse:
    await service.delete_failure_mode(
        await call.tenant_db(), call.params["failure_mode_id"], now=call.now
    )
    return web.Response(status=204)


FAILURE_MODES = Resource(
    name="failure_modes",
    noun="failure mode",
    collection="/api/v1/failure-modes",
    param="failure_mode_id",
    model=FailureMode,
    load=service.load_failure_mode,
    tag="Failure modes",
)

OPERATIONS = [
    FAILURE_MODES.list(
        list_failure_modes,
        operation_id="listFailureModes",
        summary="List failure modes",
        description="Paginated, filterable, sortable list of the tenant's FMEA failure modes."
        " `rpn_min` must not exceed `rpn_max`.",
        query=FailureModeListQuery,
    ),
    FAILURE_MODES.create(
        create_failure_mode,
        operation_id="createFailureMode",
        summary="Create a failure mode",
        description="`asset_id` must name an asset of the tenant. `rpn` (S x O x D), `priority` and"
        " `action_priority` (AIAG-VDA H/M/L) are computed.",
        body=FailureModeCreate,
    ),
    FAILURE_MODES.get(
        get_failure_mode,
        operation_id="getFailureMode",
        summary="Get one failure mode",
        description="With its computed RPN, priority and action priority.",
    ),
    FAILURE_MODES.write(
        "PUT",
        update_failure_mode,
        operation_id="updateFailureMode",
        summary="Update a failure mode (partial)",
        description="Only the fields sent change; `asset_id` cannot change. An update that changes"
        " the RPN emits fmea.rpn_changed with before and after.",
        body=FailureModeUpdate,
    ),
    FAILURE_MODES.write(
        "DELETE",
        delete_failure_mode,
        operation_id="deleteFailureMode",
        summary="Delete a failure mode",
        description="Removes it for good; actions that referred to it stay, with failure_mode_id"
        " null. No content.",
        response=None,
        status=204,
    ),
]
