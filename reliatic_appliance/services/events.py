"""The one event emitter (SPEC §7): every write records its event in its own transaction.

`emit` is called with the writer's connection, inside the transaction of the change, so
the event exists if and only if the change does. Webhook outbox rows will be added here,
in the same call, so that no write path can forget them.
"""

from __future__ import annotations

from typing import Any

import apsw

from reliatic_appliance.storage import events as event_store

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


def emit(
    conn: apsw.Connection,
    *,
    event_type: str,
    resource_type: str,
    resource_id: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    actor: str | None,
    at: str,
) -> int:
    """Record one event; return its id (monotonic within the tenant)."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type}")
    return event_store.insert_event(
        conn,
        {
            "type": event_type,
            "resource_type": resource_type,
            "resource_id": resource_id,
            "data": {"before": before, "after": after},
            "actor": actor,
            "created_at": at,
        },
    )
