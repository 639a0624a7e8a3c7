"""Risk assessment (RBI) request and response models (SPEC §5 Risk assessments). No logic."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from reliatic_appliance.domain.risk_matrix import RiskRanking
from reliatic_appliance.ports import RISK_ASSESSMENT_SORTABLE
from reliatic_appliance.schemas.common import (
    STRICT_INPUT,
    DateText,
    IsoDate,
    LongText,
    OneOf,
    PageQuery,
    ResourceId,
    ShortText,
    Timestamp,
    sort_values,
)

# SPEC §5: probability and consequence of failure are integers 1-5.
MatrixIndex = Annotated[int, Field(ge=1, le=5)]
AssessmentDate = Annotated[
    IsoDate,
    Field(description="YYYY-MM-DD; default today (UTC); not in the future."),
]

RISK_ASSESSMENT_SORT_FIELDS: tuple[str, ...] = RISK_ASSESSMENT_SORTABLE
RiskAssessmentSort = Annotated[str, OneOf(sort_values(RISK_ASSESSMENT_SORT_FIELDS))]


class RiskAssessmentFields(BaseModel):
    """The writable optional fields, shared by create and update."""

    model_config = STRICT_INPUT

    assessed_by: ShortText | None = None
    damage_mechanisms: LongText | None = None
    notes: LongText | None = None


class RiskAssessmentCreate(RiskAssessmentFields):
    model_config = ConfigDict(
        **STRICT_INPUT,
        json_schema_extra={
            "examples": [
                {
                    "asset_id": "ast_01JQ4Z6V8K3N5P7R9T1V3X5Z7B",
                    "probability_of_failure": 3,
                    "consequence_of_failure": 4,
                    "assessed_by": "J. Ortega",
                    "assessment_date": "2026-03-15",
                    "damage_mechanisms": "CO2 corrosion; CUI",
                }
            ]
        },
    )

    asset_id: ResourceId
    probability_of_failure: MatrixIndex
    consequence_of_failure: MatrixIndex
    assessment_date: AssessmentDate | None = None


class RiskAssessmentUpdate(RiskAssessmentFields):
    """Partial update: only the fields sent change; required fields cannot become null."""

    model_config = ConfigDict(
        **STRICT_INPUT, json_schema_extra={"examples": [{"probability_of_failure": 2}]}
    )

    # Defaults of None are never validated, so an explicit null for these is refused.
    asset_id: ResourceId = Field(  # type: ignore[assignment]  # optional, not nullable
        None,
        description="Cannot be changed; sending the current value is accepted and ignored.",
    )
    probability_of_failure: MatrixIndex = None  # type: ignore[assignment]  # optional, not nullable
    consequence_of_failure: MatrixIndex = None  # type: ignore[assignment]  # optional, not nullable
    assessment_date: AssessmentDate = None  # type: ignore[assignment]  # optional, not nullable


class RiskAssessment(BaseModel):
    """A risk assessment as the API returns it, with its computed score and ranking (§6)."""

    id: str
    asset_id: str
    probability_of_failure: int
    consequence_of_failure: int
    risk_score: int
    risk_ranking: RiskRanking
    assessed_by: str | None
    assessment_date: DateText
    damage_mechanisms: str | None
    notes: str | None
    created_at: Timestamp
    updated_at: Timestamp


class RiskAssessmentListQuery(PageQuery):
    asset_id: ResourceId | None = Field(None, description="Only this asset's assessments.")
    risk_ranking: RiskRanking | None = Field(None, description="Filter by computed risk ranking.")
    sort: RiskAssessmentSort | None = Field(
        None, description="Sort field; prefix '-' for descending. Ties by id."
    )
