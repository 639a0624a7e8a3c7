"""Failure mode (FMEA) request and response models (SPEC §5 Failure modes). No logic here."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from reliatic_appliance.domain.fmea import FmeaActionPriority, FmeaPriority
from reliatic_appliance.ports import FAILURE_MODE_SORTABLE
from reliatic_appliance.schemas.common import (
    STRICT_INPUT,
    LongText,
    OneOf,
    PageQuery,
    ResourceId,
    ShortText,
    Timestamp,
    sort_values,
)

Description = Annotated[LongText, StringConstraints(min_length=1)]
# SPEC §5: severity, occurrence and detection are integers 1-10.
Scale = Annotated[int, Field(ge=1, le=10)]
Rpn = Annotated[int, Field(ge=1, le=1000, description="S x O x D, 1..1000.")]

FAILURE_MODE_SORT_FIELDS: tuple[str, ...] = FAILURE_MODE_SORTABLE
FailureModeSort = Annotated[str, OneOf(sort_values(FAILURE_MODE_SORT_FIELDS))]


class FailureModeFields(BaseModel):
    """The writable optional fields, shared by create and update."""

    model_config = STRICT_INPUT

    failure_mechanism: ShortText | None = None
    effect: LongText | None = None
    cause: LongText | None = None
    current_controls: LongText | None = None


class FailureModeCreate(FailureModeFields):
    model_config = ConfigDict(
        **STRICT_INPUT,
        json_schema_extra={
            "examples": [
                {
                    "asset_id": "ast_01JQ4Z6V8K3N5P7R9T1V3X5Z7B",
                    "description": "Shell thinning at the liquid level",
                    "severity": 8,
                    "occurrence": 5,
                    "detection": 6,
                    "failure_mechanism": "CO2 corrosion",
                    "effect": "Loss of containment",
                }
            ]
        },
    )

    asset_id: ResourceId
    description: Description
    severity: Scale
    occurrence: Scale
    detection: Scale


class FailureModeUpdate(FailureModeFields):
    """Partial update: only the fields sent change; required fields cannot become null."""

    model_config = ConfigDict(**STRICT_INPUT, json_schema_extra={"examples": [{"detection": 3}]})

    # Defaults of None are never validated, so an explicit null for these is refused.
    asset_id: ResourceId = Field(  # type: ignore[assignment]  # optional, not nullable
        None,
        description="Cannot be changed; sending the current value is accepted and ignored.",
    )
    description: Description = None  # type: ignore[assignment]  # optional, not nullable
    severity: Scale = None  # type: ignore[assignment]  # optional, not nullable
    occurrence: Scale = None  # type: ignore[assignment]  # optional, not nullable
    detection: Scale = None  # type: ignore[assignment]  # optional, not nullable


class FailureMode(BaseModel):
    """A failure mode as the API returns it, with its computed RPN and priorities (SPEC §6)."""

    id: str
    asset_id: str
    description: str
    severity: int
    occurrence: int
    detection: int
    rpn: int
    priority: FmeaPriority
    action_priority: FmeaActionPriority
    failure_mechanism: str | None
    effect: str | None
    cause: str | None
    current_controls: str | None
    created_at: Timestamp
    updated_at: Timestamp


class FailureModeListQuery(PageQuery):
    asset_id: ResourceId | None = Field(None, description="Only this asset's failure modes.")
    rpn_min: Rpn | None = Field(None, description="Only RPN at or above this (1..1000).")
    rpn_max: Rpn | None = Field(None, description="Only RPN at or below this (1..1000).")
    priority: FmeaPriority | None = Field(None, description="Filter by computed priority.")
    action_priority: FmeaActionPriority | None = Field(
        None, description="Filter by AIAG-VDA action priority."
    )
    sort: FailureModeSort | None = Field(
        None, description="Sort field; prefix '-' for descending. Ties by id."
    )
