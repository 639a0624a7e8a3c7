"""`/api/v1/mocs` (SPEC §5 MOC, §6 lifecycle): parse → service → respond."""

from __future__ import annotations

from aiohttp import web

from reliatic_appliance.api.pagination import collection, page_request
from reliatic_appliance.api.parsing import fields_sent
from reliatic_appliance.api.resources import Resource
from reliatic_appliance.api.routes import Call
from reliatic_appliance.ports import MocFilter
from reliatic_appliance.schemas.mocs import Moc, MocCreate, MocListQuery, MocStatusChange, MocUpdate
from reliatic_appliance.services import mocs as service


async def list_mocs(call: Call) -> web.StreamResponse:
    q: MocListQuery = call.query
    flt = MocFilter(status=q.status, asset_id=q.asset_id, updated_since=q.updated_since)
    page = await service.list_mocs(await call.tenant_db(), flt, q.sort, page_request(q))
    return collection(call.request, page)


async def get_moc(call: Call) -> web.StreamResponse:
    return call.single(await service.get_moc(await call.tenant_db(), call.params["moc_id"]))


async def create_moc(call: Call) -> web.StreamResponse:
    row = await service.create_moc(
        await call.tenant_db(), fields_sent(call.body), actor=call.actor, now=call.now
    )
    return call.created(row, MOCS.collection)


async def update_moc(call: Call) -> web.StreamResponse:
    row = await service.update_moc(
        await call.tenant_db(),
        call.params["moc_id"],
        fields_sent(call.body),
        actor=call.actor,
        now=call.now,
    )
    return call.single(row)


async def change_status(call: Call) -> web.StreamResponse:
    body: MocStatusChange = call.body
    row = await service.change_status(
        await call.tenant_db(),
        call.params["moc_id"],
        body.status,
        body.comment,
        actor=call.actor,
        now=call.now,
    )
    return call.single(row)


MOCS = Resource(
    name="mocs",
    noun="MOC",
    collection="/api/v1/mocs",
    param="moc_id",
    model=Moc,
    load=service.load_moc,
    tag="MOC",
)

OPERATIONS = [
    MOCS.list(
        list_mocs,
        operation_id="listMocs",
        summary="List management-of-change records",
        description="Paginated, filterable, sortable list of the tenant's MOCs, each with its"
        " status history.",
        query=MocListQuery,
    ),
    MOCS.create(
        create_moc,
        operation_id="createMoc",
        summary="Create a management-of-change record",
        description="New MOCs are `draft`. `asset_id`, when given, must name an asset of this"
        " tenant.",
        body=MocCreate,
    ),
    MOCS.get(
        get_moc,
        operation_id="getMoc",
        summary="Get one management-of-change record",
        description="With its status history, oldest first.",
    ),
    MOCS.write(
        "PUT",
        update_moc,
        operation_id="updateMoc",
        summary="Update a management-of-change record (partial)",
        description="Only the fields sent change; `status` changes only through"
        " `PUT /api/v1/mocs/{moc_id}/status`. A closed or cancelled MOC can no longer be"
        " changed (409).",
        body=MocUpdate,
        errors=(409,),
    ),
    MOCS.write(
        "PUT",
        change_status,
        operation_id="changeMocStatus",
        summary="Move a management-of-change record to its next status",
        description="draft → submitted | cancelled; submitted → under_review | cancelled;"
        " under_review → approved | rejected; approved → implemented; implemented → closed;"
        " rejected → draft. Any other move is 409 and its details list the allowed next"
        " states. Appends to `history` and emits `moc.status_changed`.",
        body=MocStatusChange,
        errors=(409,),
        suffix="/status",
    ),
]
