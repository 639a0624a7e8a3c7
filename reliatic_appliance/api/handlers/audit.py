"""`/api/v1/audit-log` (SPEC §5): the tenant's administrative acts, for `audit:read`."""

from __future__ import annotations

from aiohttp import web

from reliatic_appliance.api.pagination import collection, page_request
from reliatic_appliance.api.routes import Call, Operation
from reliatic_appliance.keys import CONTROL_DB
from reliatic_appliance.ports import AuditFilter
from reliatic_appliance.schemas.audit import AuditEntry, AuditListQuery
from reliatic_appliance.schemas.common import Collection
from reliatic_appliance.services import audit


async def list_audit_log(call: Call) -> web.StreamResponse:
    q: AuditListQuery = call.query
    flt = AuditFilter(actor=q.actor, action=q.action, updated_since=q.updated_since)
    page = await audit.list_audit(
        call.request.app[CONTROL_DB],
        await call.tenant_db(),
        call.require_principal().tenant_id,
        flt,
        q.sort,
        page_request(q),
    )
    return collection(call.request, page)


OPERATIONS = [
    Operation(
        "GET",
        "/api/v1/audit-log",
        list_audit_log,
        operation_id="listAuditLog",
        summary="Audit log",
        description=(
            "Every administrative act on the tenant: keys created and revoked; webhooks"
            " created, changed, rotated, removed or disabled by the scheduler; redeliveries;"
            " users created, invited, registered and disabled; logins, failed logins and"
            " logouts; the tenant created, disabled or enabled; backups and restores. Each"
            " with who, from where and what changed (never a secret). Entries are"
            " hash-chained; `reliatic audit verify` checks the chains."
        ),
        tag="Audit log",
        permission="audit:read",
        query=AuditListQuery,
        response=Collection[AuditEntry],
        collection=True,
    ),
]
