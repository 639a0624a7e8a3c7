"""Webhook subscription and delivery-log models (SPEC §5 Webhooks, §7)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, Strict, StringConstraints

from reliatic_appliance.domain.event_types import EventType
from reliatic_appliance.domain.retry import DeliveryStatus
from reliatic_appliance.schemas.common import (
    STRICT_INPUT,
    LongText,
    PageOnlyQuery,
    Timestamp,
)

Url = Annotated[
    str,
    StringConstraints(min_length=8, max_length=2048, pattern=r"^https?://[^\x00-\x20\x7f]+$"),
    Field(examples=["https://cmms.plant.local/hooks/reliatic"]),
]
Secret = Annotated[
    str,
    StringConstraints(min_length=38, max_length=100, pattern=r"^whsec_[A-Za-z0-9+/=]+$"),
    Field(description="`whsec_` + base64 of 24-64 bytes; generated when absent."),
]
# Not strict: `reliatic webhook add` validates its arguments as Python values, where a strict
# enum accepts only members; JSON input is the same either way (the values, as text).
EventList = Annotated[
    list[Annotated[EventType, Strict(False)]], Field(min_length=1, max_length=len(EventType))
]


class WebhookCreate(BaseModel):
    model_config = ConfigDict(
        **STRICT_INPUT,
        json_schema_extra={
            "examples": [
                {
                    "url": "https://cmms.plant.local/hooks/reliatic",
                    "events": ["asset.updated", "action.status_changed"],
                    "description": "SAP PM notifications",
                }
            ]
        },
    )

    url: Url
    events: EventList
    secret: Secret | None = None
    enabled: bool = True
    description: LongText | None = None


class WebhookUpdate(BaseModel):
    model_config = ConfigDict(**STRICT_INPUT, json_schema_extra={"examples": [{"enabled": False}]})

    url: Url = None  # type: ignore[assignment]  # optional, not nullable
    events: EventList = None  # type: ignore[assignment]  # optional, not nullable
    enabled: bool = None  # type: ignore[assignment]  # optional, not nullable
    description: LongText | None = None


class RotateSecret(BaseModel):
    model_config = ConfigDict(**STRICT_INPUT, json_schema_extra={"examples": [{}]})

    secret: Secret | None = None


class Webhook(BaseModel):
    id: str
    url: str
    events: list[EventType]
    description: str | None
    enabled: bool
    disabled_reason: str | None = Field(description="Why the scheduler disabled it, if it did.")
    previous_secret_expires_at: Timestamp | None = Field(
        description="While set and in the future, the previous secret still signs too."
    )
    created_at: Timestamp
    updated_at: Timestamp


class WebhookWithSecret(Webhook):
    secret: str = Field(description="Shown once: store it now.")


class DeliveryAttempt(BaseModel):
    attempt: int
    at: Timestamp
    duration_ms: float
    http_status: int | None
    error: str | None


class Delivery(BaseModel):
    id: str = Field(description="The delivery id: same across retries and redeliveries.")
    webhook_id: str
    event_id: str | None
    event_type: str
    status: DeliveryStatus
    attempt_count: int
    attempts: list[DeliveryAttempt]
    next_attempt_at: Timestamp | None
    last_http_status: int | None
    last_error: str | None
    created_at: Timestamp
    completed_at: Timestamp | None


class WebhookListQuery(PageOnlyQuery):
    pass


class DeliveryListQuery(PageOnlyQuery):
    status: DeliveryStatus | None = None
