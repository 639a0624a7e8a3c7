"""Event feed and alert models (SPEC §5 Events and Alerts, §7 payload)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

from reliatic_appliance.domain.event_types import EventType
from reliatic_appliance.domain.vocabulary import AlertKind, AlertResourceType, AlertSeverity
from reliatic_appliance.ports import ALERT_SORTABLE
from reliatic_appliance.schemas.common import OneOf, PageQuery, ResourceId, Timestamp, sort_values


class EventResource(BaseModel):
    type: str = Field(examples=["asset"])
    id: str


class EventData(BaseModel):
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class Event(BaseModel):
    """A feed item: the webhook payload of SPEC §7 without `delivery_id`."""

    id: str = Field(description="Event id; increases monotonically within the tenant.")
    type: EventType
    timestamp: Timestamp
    tenant: str
    resource: EventResource
    data: EventData


class EventListQuery(PageQuery):
    after: int | None = Field(
        None, ge=0, le=2**62, description="Only events with an id greater than this (cursor)."
    )
    type: EventType | None = Field(None, description="Only events of this type.")


ALERT_SORT_FIELDS: tuple[str, ...] = ALERT_SORTABLE
AlertSort = Annotated[str, OneOf(sort_values(ALERT_SORT_FIELDS))]


class Alert(BaseModel):
    id: str
    kind: AlertKind
    severity: AlertSeverity
    resource_type: str
    resource_id: str
    level: int | None
    message: str
    created_at: Timestamp
    updated_at: Timestamp


class AlertListQuery(PageQuery):
    kind: AlertKind | None = None
    resource_type: AlertResourceType | None = None
    # An id like any other (SPEC §9: control characters are a validation error).
    resource_id: ResourceId | None = None
    sort: AlertSort | None = None
