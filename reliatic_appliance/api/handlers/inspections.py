"""`/api/v1/inspections` (SPEC §5 Inspections): parse → service → respond."""

from __future__ import annotations

from aiohttp import web

from reliatic_appliance.api.pagination import collection, page_request
from reliatic_appliance.api.parsing import fields_sent
from reliatic_appliance.api.resources import Resource
from reliatic_appliance.api.routes import Call
from reliatic_appliance.ports import InspectionFilter
from reliatic_appliance.schemas.inspections import (
    Inspection,
    InspectionCreate,
    InspectionListQuery,
    InspectionUpdate,
)
from reliatic_appliance.services import inspections as service


async def list_inspections(call: Call) -> web.StreamResponse:
    q: InspectionListQuery = call.query
    service.check_date_range(q.date_from, q.date_to)
    flt = InspectionFilter(
        asset_id=q.asset_id,
        inspection_type=q.inspection_type,
        status=q.status,
        date_from=q.date_from.isoformat() if q.date_from else None,
        date_to=q.date_to.isoformat() if q.date_to else None,
        updated_since=q.updated_since,
    )
    page = await service.list_inspections(await call.tenant_db(), flt, q.sort, page_request(q))
    return collection(call.request, page)


async def get_inspection(call: Call) -> web.StreamResponse:
    return call.single(
        await service.get_inspection(await call.tenant_db(), call.params["inspection_id"])
    )


async def create_inspection(call: Call) -> web.StreamResponse:
    body: InspectionCreate = call.body
    row = await service.create_inspection(
        await call.tenant_db(),
        fields_sent(body) | {"status": body.status},
        actor=call.actor,
        now=call.now,
    )
    return call.created(row, INSPECTIONS.collection)


async def update_inspection(call: Call) -> web.StreamResponse:
    row = await service.update_inspection(
        await call.tenant_db(),
        call.params["inspection_id"],
        fields_sent(call.body),
        actor=call.actor,
        now=call.now,
    )
    return call.single(row)


INSPECTIONS = Resource(
    name="inspections",
    noun="inspection",
    collection="/api/v1/inspections",
    param="inspection_id",
    model=Inspection,
    load=service.load_inspection,
    tag="Inspections",
)

OPERATIONS = [
    INSPECTIONS.list(
        list_inspections,
        operation_id="listInspections",
        summary="List inspections",
        description="Paginated, filterable, sortable list of the tenant's inspections."
        " `date_from`/`date_to` are inclusive bounds on inspection_date.",
        query=InspectionListQuery,
    ),
    INSPECTIONS.create(
        create_inspection,
        operation_id="createInspection",
        summary="Record an inspection",
        description="`effectiveness` (A to E) is computed from type and coverage."
        " `inspection_date` may not be in the future or before the asset's install_date; a"
        " thickness reading may not be above the asset's nominal thickness. A completed"
        " inspection emits inspection.completed and updates the asset's corrosion rate,"
        " remaining life and next inspection date.",
        body=InspectionCreate,
    ),
    INSPECTIONS.get(
        get_inspection,
        operation_id="getInspection",
        summary="Get one inspection",
        description="Inspections are evidence: they can be corrected but never deleted.",
        errors=(404,),
    ),
    INSPECTIONS.write(
        "PUT",
        update_inspection,
        operation_id="updateInspection",
        summary="Update an inspection (partial)",
        description="Only the fields sent change. A draft becoming completed emits"
        " inspection.completed; a completed inspection cannot return to draft (409)."
        " `asset_id` cannot change (record a new inspection instead). There is no"
        " DELETE: inspection records are evidence of the asset's condition.",
        body=InspectionUpdate,
        errors=(404, 409),
    ),
]
