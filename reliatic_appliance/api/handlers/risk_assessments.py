"""`/api/v1/risk-assessments` (SPEC §5 Risk assessments, RBI): parse → service → respond."""

from __future__ import annotations

from aiohttp import web

from reliatic_appliance.api.pagination import collection, page_request
from reliatic_appliance.api.parsing import fields_sent
from reliatic_appliance.api.resources import Resource
from reliatic_appliance.api.routes import Call
from reliatic_appliance.ports import RiskAssessmentFilter
from reliatic_appliance.schemas.risk_assessments import (
    RiskAssessment,
    RiskAssessmentCreate,
    RiskAssessmentListQuery,
    RiskAssessmentUpdate,
)
from reliatic_appliance.services import risk_assessments as service


async def list_risk_assessments(call: Call) -> web.StreamResponse:
    q: RiskAssessmentListQuery = call.query
    flt = RiskAssessmentFilter(
        asset_id=q.asset_id, risk_ranking=q.risk_ranking, updated_since=q.updated_since
    )
    page = await service.list_risk_assessments(await call.tenant_db(), flt, q.sort, page_request(q))
    return collection(call.request, page)


async def get_risk_assessment(call: Call) -> web.StreamResponse:
    return call.single(
        await service.get_risk_assessment(await call.tenant_db(), call.params["risk_assessment_id"])
    )


async def create_risk_assessment(call: Call) -> web.StreamResponse:
    row = await service.create_risk_assessment(
        await call.tenant_db(), fields_sent(call.body), actor=call.actor, now=call.now
    )
    return call.created(row, RISK_ASSESSMENTS.collection)


async def update_risk_assessment(call: Call) -> web.StreamResponse:
    row = await service.update_risk_assessment(
        await call.tenant_db(),
        call.params["risk_assessment_id"],
        fields_sent(call.body),
        actor=call.actor,
        now=call.now,
    )
    return call.single(row)


RISK_ASSESSMENTS = Resource(
    name="risk_assessments",
    noun="risk assessment",
    collection="/api/v1/risk-assessments",
    param="risk_assessment_id",
    model=RiskAssessment,
    load=service.load_risk_assessment,
    tag="Risk assessments",
)

OPERATIONS = [
    RISK_ASSESSMENTS.list(
        list_risk_assessments,
        operation_id="listRiskAssessments",
        summary="List risk assessments",
        description="Paginated, filterable, sortable list of the tenant's RBI assessments.",
        query=RiskAssessmentListQuery,
    ),
    RISK_ASSESSMENTS.create(
        create_risk_assessment,
        operation_id="createRiskAssessment",
        summary="Create a risk assessment",
        description="`asset_id` must name an asset of the tenant. `risk_score` (P x C) and"
        " `risk_ranking` (5x5 matrix) are computed; the asset's risk_ranking follows its"
        " newest assessment (latest assessment_date, then latest created)."
        " Emits risk_assessment.created, and asset.updated when the asset's ranking changes.",
        body=RiskAssessmentCreate,
    ),
    RISK_ASSESSMENTS.get(
        get_risk_assessment,
        operation_id="getRiskAssessment",
        summary="Get one risk assessment",
        description="With its computed risk score and ranking.",
    ),
    RISK_ASSESSMENTS.write(
        "PUT",
        update_risk_assessment,
        operation_id="updateRiskAssessment",
        summary="Update a risk assessment (partial)",
        description="Only the fields sent change; `asset_id` cannot change. Score and ranking are"
        " recomputed and the asset's ranking refreshed (asset.updated when it changes).",
        body=RiskAssessmentUpdate,
    ),
]
