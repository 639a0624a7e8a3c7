"""Inspection request and response models (SPEC §5 Inspections, §6 effectiveness). No logic."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from reliatic_appliance.domain.effectiveness import Effectiveness, InspectionType
from reliatic_appliance.domain.lifecycle import InspectionStatus
from reliatic_appliance.ports import INSPECTION_SORTABLE
from reliatic_appliance.schemas.common import (
    STRICT_INPUT,
    DateText,
    IsoDate,
    LongText,
    Name,
    OneOf,
    PageQuery,
    ResourceId,
    Timestamp,
    sort_values,
)

Coverage = Annotated[
    float,
    Field(ge=0, le=100, description="Share of the surface inspected, % (missing counts as 0)."),
]
# Below zero is impossible; above the asset's nominal thickness is refused by the service,
# which knows the asset (SPEC §5). 1000 mm matches the asset thickness bound.
Reading = Annotated[
    float,
    Field(ge=0, le=1000, description="Minimum measured wall thickness, mm."),
]

INSPECTION_SORT_FIELDS: tuple[str, ...] = INSPECTION_SORTABLE
InspectionSort = Annotated[str, OneOf(sort_values(INSPECTION_SORT_FIELDS))]


class InspectionFields(BaseModel):
    """The writable optional fields, shared by create and update."""

    model_config = STRICT_INPUT

    coverage_percent: Coverage | None = None
    findings: LongText | None = None
    min_measured_thickness_mm: Reading | None = None


class InspectionCreate(InspectionFields):
    model_config = ConfigDict(
        **STRICT_INPUT,
        json_schema_extra={
            "examples": [
                {
                    "asset_id": "ast_01JQ7Z3XK4M5N6P7Q8R9S0T1V2",
                    "inspection_type": "ut_scanning",
                    "inspection_date": "2026-03-14",
                    "inspector_name": "J. Smith (API 510 #12345)",
                    "coverage_percent": 60,
                    "min_measured_thickness_mm": 21.8,
                    "findings": "General thinning at the bottom head, no pitting.",
                }
            ]
        },
    )

    asset_id: ResourceId
    inspection_type: InspectionType
    inspection_date: IsoDate = Field(
        description="Not in the future, not before the asset's install_date."
    )
    inspector_name: Name
    status: InspectionStatus = InspectionStatus.COMPLETED


class InspectionUpdate(InspectionFields):
    """Partial update: only the fields sent change; required fields cannot become null."""

    model_config = ConfigDict(
        **STRICT_INPUT, json_schema_extra={"examples": [{"status": "completed"}]}
    )

    # Defaults of None are never validated, so an explicit null for these is refused.
    # asset_id is accepted only unchanged (a full object sent back), never to move evidence.
    asset_id: ResourceId = None  # type: ignore[assignment]  # optional, not nullable
    inspection_type: InspectionType = None  # type: ignore[assignment]  # optional, not nullable
    inspection_date: IsoDate = None  # type: ignore[assignment]  # optional, not nullable
    inspector_name: Name = None  # type: ignore[assignment]  # optional, not nullable
    status: InspectionStatus = None  # type: ignore[assignment]  # optional, not nullable


class Inspection(BaseModel):
    """An inspection as the API returns it; `effectiveness` is computed (SPEC §6)."""

    id: str
    asset_id: str
    inspection_type: InspectionType
    inspection_date: DateText
    inspector_name: str
    coverage_percent: float | None
    status: InspectionStatus
    findings: str | None
    min_measured_thickness_mm: float | None
    effectiveness: Effectiveness
    created_at: Timestamp
    updated_at: Timestamp


class InspectionListQuery(PageQuery):
    asset_id: ResourceId | None = Field(None, description="Only this asset's inspections.")
    inspection_type: InspectionType | None = Field(None, description="Filter by inspection_type.")
    status: InspectionStatus | None = Field(None, description="Filter by status.")
    date_from: IsoDate | None = Field(
        None, description="inspection_date on or after this date (YYYY-MM-DD)."
    )
    date_to: IsoDate | None = Field(
        None, description="inspection_date on or before this date (YYYY-MM-DD)."
    )
    sort: InspectionSort | None = Field(
        None, description="Sort field; prefix '-' for descending. Ties by id."
    )
