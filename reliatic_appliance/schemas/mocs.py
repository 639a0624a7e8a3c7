"""Management-of-change request and response models (SPEC §5 MOC, §6 lifecycle). No logic."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from reliatic_appliance.domain.lifecycle import MocStatus
from reliatic_appliance.ports import MOC_SORTABLE
from reliatic_appliance.schemas.common import (
    STRICT_INPUT,
    HistoryEntry,
    LongText,
    Name,
    OneOf,
    PageQuery,
    ResourceId,
    Timestamp,
    sort_values,
)

MOC_SORT_FIELDS: tuple[str, ...] = MOC_SORTABLE
MocSort = Annotated[str, OneOf(sort_values(MOC_SORT_FIELDS))]


class MocFields(BaseModel):
    """The writable optional fields, shared by create and update. `status` is not one."""

    model_config = STRICT_INPUT

    description: LongText | None = None
    asset_id: ResourceId | None = None


class MocCreate(MocFields):
    model_config = ConfigDict(
        **STRICT_INPUT,
        json_schema_extra={
            "examples": [
                {
                    "title": "Replace PSV-101 with a larger orifice",
                    "description": "Relief load increased after the debottleneck.",
                    "asset_id": "ast_01JQ8Z6X4M0000000000000000",
                    "requested_by": "a.engineer",
                }
            ]
        },
    )

    title: Name
    requested_by: Name


class MocUpdate(MocFields):
    """Partial update: only the fields sent change; required fields cannot become null."""

    model_config = ConfigDict(
        **STRICT_INPUT,
        json_schema_extra={"examples": [{"description": "Scope extended to PSV-102."}]},
    )

    # Defaults of None are never validated, so an explicit null for these is refused.
    title: Name = None  # type: ignore[assignment]  # optional, not nullable
    requested_by: Name = None  # type: ignore[assignment]  # optional, not nullable


class MocStatusChange(BaseModel):
    model_config = ConfigDict(
        **STRICT_INPUT,
        json_schema_extra={"examples": [{"status": "submitted", "comment": "Ready for review"}]},
    )

    status: MocStatus = Field(description="The next status (SPEC §6 MOC lifecycle).")
    comment: LongText | None = None


class Moc(BaseModel):
    """A management-of-change record as the API returns it, with its status history."""

    id: str
    title: str
    description: str | None
    asset_id: str | None
    requested_by: str
    status: MocStatus
    history: list[HistoryEntry]
    created_at: Timestamp
    updated_at: Timestamp


class MocListQuery(PageQuery):
    status: MocStatus | None = Field(None, description="Filter by status.")
    asset_id: ResourceId | None = Field(None, description="Filter by asset.")
    sort: MocSort | None = Field(
        None, description="Sort field; prefix '-' for descending. Ties by id."
    )
