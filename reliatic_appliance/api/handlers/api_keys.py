"""`/api/v1/api-keys` (SPEC §4): key management over the API, full key shown once."""

from __future__ import annotations

from aiohttp import web

from reliatic_appliance.api.pagination import collection, page_request
from reliatic_appliance.api.routes import Call, Operation
from reliatic_appliance.keys import CONTROL_DB
from reliatic_appliance.schemas.api_keys import ApiKey, ApiKeyCreate, ApiKeyCreated, ApiKeyListQuery
from reliatic_appliance.schemas.common import Collection, Single
from reliatic_appliance.services import api_keys as service


async def list_keys(call: Call) -> web.StreamResponse:
    principal = call.require_principal()
    page = await service.list_keys(
        call.request.app[CONTROL_DB], principal.tenant_id, page_request(call.query)
    )
    return collection(call.request, page)


async def create_key(call: Call) -> web.StreamResponse:
    principal = call.require_principal()
    body: ApiKeyCreate = call.body
    record, key = await service.create_key(
        call.request.app[CONTROL_DB],
        tenant_id=principal.tenant_id,
        name=body.name,
        level=body.level,
        scopes=body.permissions,
        expires_at=body.expires_at,
        rate_limit_per_minute=body.rate_limit_per_minute,
        by=call.who,
        creator_permissions=principal.permissions,
        now=call.now,
    )
    response = call.created({**record, "key": key}, "/api/v1/api-keys")
    # The one response that holds a key: no cache may keep it.
    response.headers["Cache-Control"] = "no-store"
    return response


async def revoke_key(call: Call) -> web.StreamResponse:
    principal = call.require_principal()
    record = await service.revoke_key(
        call.request.app[CONTROL_DB],
        call.params["key_id"],
        tenant_id=principal.tenant_id,
        by=call.who,
        now=call.now,
    )
    return call.single(record)


OPERATIONS = [
    Operation(
        "GET",
        "/api/v1/api-keys",
        list_keys,
        operation_id="listApiKeys",
        summary="List API keys",
        description="The tenant's keys, masked: metadata and the first 12 characters.",
        tag="API keys",
        permission="api_keys:read",
        query=ApiKeyListQuery,
        response=Collection[ApiKey],
        collection=True,
    ),
    Operation(
        "POST",
        "/api/v1/api-keys",
        create_key,
        operation_id="createApiKey",
        summary="Create an API key",
        description=(
            "Returns the full key once. A key cannot create a key with permissions it"
            " does not hold itself (403)."
        ),
        tag="API keys",
        permission="api_keys:write",
        body=ApiKeyCreate,
        response=Single[ApiKeyCreated],
        status=201,
    ),
    Operation(
        "DELETE",
        "/api/v1/api-keys/{key_id}",
        revoke_key,
        operation_id="revokeApiKey",
        summary="Revoke an API key",
        description="Effective on the next request. Revoking a revoked key changes nothing.",
        tag="API keys",
        permission="api_keys:write",
        response=Single[ApiKey],
        path_params={"key_id": "The key's id."},
        errors=(404,),
    ),
]
