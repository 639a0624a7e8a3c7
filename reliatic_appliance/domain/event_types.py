"""The event types of SPEC §7. New types may be added (announced); none removed in /v1."""

from __future__ import annotations

EVENT_TYPES: tuple[str, ...] = (
    "asset.created",
    "asset.updated",
    "asset.decommissioned",
    "inspection.completed",
    "action.status_changed",
    "risk_assessment.created",
    "fmea.rpn_changed",
    "moc.status_changed",
    "alert.escalated",
)
# Sent by `POST /webhooks/:id/test`; never stored in the feed.
PING = "ping"
