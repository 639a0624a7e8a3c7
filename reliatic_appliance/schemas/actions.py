"""Corrective-action request and response models (SPEC §5 Actions, §6 lifecycle). No logic.

Also the two shapes MOCs share with actions: a referenced row's id and a history entry.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from reliatic_appliance.domain.lifecycle import ActionStatus
from reliatic_appliance.domain.vocabulary import ActionPriority
from reliatic_appliance.ports import ACTION_SORTABLE
from reliatic_appliance.schemas.common import (
    STRICT_INPUT,
    DateText,
    HistoryEntry,
    IsoDate,
    LongText,
    Name,
    OneOf,
    PageQuery,
    ResourceId,
    ShortText,
    Timestamp,
    sort_values,
)

# `priority` is text (low < critical is not text order), so it is a filter, not a sort.
ACTION_SORT_FIELDS: tuple[str, ...] = ACTION_SORTABLE
ActionSort = Annotated[str, OneOf(sort_values(ACTION_SORT_FIELDS))]


class ActionFields(BaseModel):
    """The writable optional fields, shared by create and update. `status` is not one."""

    model_config = STRICT_INPUT

    description: LongText | None = None
    asset_id: ResourceId | None = None
    failure_mode_id: ResourceId | None = None
    inspection_id: ResourceId | None = None
    assignee_id: ShortText | None = None
    due_date: IsoDate | None = None


class ActionCreate(ActionFields):
    model_config = ConfigDict(
        **STRICT_INPUT,
        json_schema_extra={
            "examples": [
                {
                    "title": "Replace corroded nozzle N3",
                    "priority": "high",
                    "asset_id": "ast_01JQ8Z6X4M0000000000000000",
                    "assignee_id": "jsmith",
                    "due_date": "2026-06-30",
                }
            ]
        },
    )

    title: Name
    priority: ActionPriority


class ActionUpdate(ActionFields):
    """Partial update: only the fields sent change; required fields cannot become null."""

    model_config = ConfigDict(
        **STRICT_INPUT, json_schema_extra={"examples": [{"due_date": "2026-07-15"}]}
    )

    # Defaults of None are never validated, so an explicit null for these is refused.
    title: Name = None  # type: ignore[assignment]  # optional, not nullable
    priority: ActionPriority = None  # type: ignore[assignment]  # optional, not nullable


class ActionStatusChange(BaseModel):
    model_config = ConfigDict(
        **STRICT_INPUT,
        json_schema_extra={"examples": [{"status": "in_progress", "comment": "Crew assigned"}]},
    )

    status: ActionStatus = Field(description="The next status (SPEC §6 action lifecycle).")
    comment: LongText | None = None


class Action(BaseModel):
    """An action as the API returns it, with its status history."""

    id: str
    title: str
    description: str | None
    priority: ActionPriority
    status: ActionStatus
    asset_id: str | None
    failure_mode_id: str | None
    inspection_id: str | None
    assignee_id: str | None
    due_date: DateText | None
    history: list[HistoryEntry]
    created_at: Timestamp
    updated_at: Timestamp


class ActionListQuery(PageQuery):
    status: ActionStatus | None = Field(None, description="Filter by status.")
    priority: ActionPriority | None = Field(None, description="Filter by priority.")
    assignee_id: Name | None = Field(None, description="Filter by assignee.")
    asset_id: ResourceId | None = Field(None, description="Filter by asset.")
    overdue: bool | None = Field(
        None,
        description="true: past due_date (UTC) and still open, in_progress or on_hold;"
        " false: everything else.",
    )
    sort: ActionSort | None = Field(
        None, description="Sort field; prefix '-' for descending. Ties by id."
    )
