"""`/api/v1/assets` (SPEC §5 Assets): parse → service → respond."""

from __future__ import annotations

from aiohttp import web

from reliatic_appliance.api.pagination import collection, page_request
from reliatic_appliance.api.parsing import fields_sent
from reliatic_appliance.api.resources import Resource
from reliatic_appliance.api.routes import Call
from reliatic_appliance.ports import AssetFilter
from reliatic_appliance.schemas.assets import Asset, AssetCreate, AssetListQuery, AssetUpdate
from reliatic_appliance.services import assets as service


async def list_assets(call: Call) -> web.StreamResponse:
    q: AssetListQuery = call.query
    flt = AssetFilter(
        status=q.status, asset_type=q.type, search=q.search, updated_since=q.updated_since
    )
    page = await service.list_assets(await call.tenant_db(), flt, q.sort, page_request(q))
    return collection(call.request, page)


async def get_asset(call: Call) -> web.StreamResponse:
    return call.single(await service.get_asset(await call.tenant_db(), call.params["asset_id"]))


async def create_asset(call: Call) -> web.StreamResponse:
    body: AssetCreate = call.body
    row = await service.create_asset(
        await call.tenant_db(),
        fields_sent(body) | {"status": body.status},
        actor=call.actor,
        now=call.now,
    )
    return call.created(row, ASSETS.collection)


async def update_asset(call: Call) -> web.StreamResponse:
    row = await service.update_asset(
        await call.tenant_db(),
        call.params["asset_id"],
        fields_sent(call.body),
        actor=call.actor,
        now=call.now,
    )
    return call.single(row)


async def delete_asset(call: Call) -> web.StreamResponse:
    row = await service.decommission_asset(
        await call.tenant_db(), call.params["asset_id"], actor=call.actor, now=call.now
    )
    return call.single(row)


ASSETS = Resource(
    name="assets",
    noun="asset",
    collection="/api/v1/assets",
    param="asset_id",
    model=Asset,
    load=service.load_asset,
    tag="Assets",
)

OPERATIONS = [
    ASSETS.list(
        list_assets,
        operation_id="listAssets",
        summary="List assets",
        description="Paginated, filterable, sortable list of the tenant's assets.",
        query=AssetListQuery,
    ),
    ASSETS.create(
        create_asset,
        operation_id="createAsset",
        summary="Create an asset",
        description="`tag_number` must be unique in the tenant (409 otherwise).",
        body=AssetCreate,
        errors=(409,),
    ),
    ASSETS.get(
        get_asset,
        operation_id="getAsset",
        summary="Get one asset",
        description="With its computed risk ranking, last inspection and remaining life.",
        errors=(404,),
    ),
    ASSETS.write(
        "PUT",
        update_asset,
        operation_id="updateAsset",
        summary="Update an asset (partial)",
        description="Only the fields sent change. Emits asset.updated.",
        body=AssetUpdate,
        errors=(404, 409),
    ),
    ASSETS.write(
        "DELETE",
        delete_asset,
        operation_id="decommissionAsset",
        summary="Decommission an asset (soft delete)",
        description="Sets status to decommissioned; the asset stays readable.",
        errors=(404,),
    ),
]
