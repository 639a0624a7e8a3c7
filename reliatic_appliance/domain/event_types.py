"""The event types of SPEC §7. New types may be added (announced); none removed in /v1."""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    """An event's `type` (SPEC §7)."""

    ASSET_CREATED = "asset.created"
    ASSET_UPDATED = "asset.updated"
    ASSET_DECOMMISSIONED = "asset.decommissioned"
    INSPECTION_COMPLETED = "inspection.completed"
    ACTION_STATUS_CHANGED = "action.status_changed"
    RISK_ASSESSMENT_CREATED = "risk_assessment.created"
    FMEA_RPN_CHANGED = "fmea.rpn_changed"
    MOC_STATUS_CHANGED = "moc.status_changed"
    ALERT_ESCALATED = "alert.escalated"


# The tuple came first; kept, derived, for code that iterates plain sequences.
EVENT_TYPES: tuple[EventType, ...] = tuple(EventType)
# Sent by `POST /webhooks/:id/test`; never stored in the feed, so not an EventType: nobody
# subscribes to it and the feed never lists it.
PING = "ping"
