"""The one event emitter (SPEC §7): every write records its event in its own transaction.

`emit` is called with the writer's connection, inside the transaction of the change, so
the event exists if and only if the change does. In the same call it writes one outbox row
per enabled subscription to the event's type, so no write path can forget them and a crash
can delay a delivery but never lose one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reliatic_appliance.domain.event_types import EVENT_TYPES
from reliatic_appliance.ids import new_id
from reliatic_appliance.ports import TenantDb, TenantTx
from reliatic_appliance.services.paging import Page, PageRequest


def emit(
    tx: TenantTx,
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
    event = _event(event_type, resource_type, resource_id, before, after, actor, at)
    event_id = tx.events.insert_event(event)
    for webhook_id in tx.webhooks.subscribers(event_type):
        tx.webhooks.insert_delivery(_delivery(webhook_id, event_id, event_type, at))
    return event_id


def emit_many(
    tx: TenantTx,
    *,
    event_type: str,
    resource_type: str,
    changes: Sequence[tuple[str, dict[str, Any] | None, dict[str, Any] | None]],
    actor: str | None,
    at: str,
) -> list[int]:
    """`emit` for many resources of one type at once (resource id, before, after): the same
    events and outbox rows, each table written by one statement (a bulk import)."""
    events = [
        _event(event_type, resource_type, resource_id, before, after, actor, at)
        for resource_id, before, after in changes
    ]
    event_ids = tx.events.insert_events(events)
    subscribers = tx.webhooks.subscribers(event_type)
    tx.webhooks.insert_deliveries(
        [
            _delivery(webhook_id, event_id, event_type, at)
            for event_id in event_ids
            for webhook_id in subscribers
        ]
    )
    return event_ids


def _event(
    event_type: str,
    resource_type: str,
    resource_id: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    actor: str | None,
    at: str,
) -> dict[str, Any]:
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type}")
    return {
        "type": event_type,
        "resource_type": resource_type,
        "resource_id": resource_id,
        "data": {"before": before, "after": after},
        "actor": actor,
        "created_at": at,
    }


def _delivery(webhook_id: str, event_id: int, event_type: str, at: str) -> dict[str, Any]:
    """A pending delivery of an event to one subscription, due at once."""
    return {
        "id": new_id("dlv"),
        "webhook_id": webhook_id,
        "event_id": event_id,
        "event_type": event_type,
        "payload": None,
        "next_attempt_at": at,
        "created_at": at,
    }


def feed_item(row: dict[str, Any], tenant_slug: str) -> dict[str, Any]:
    """The §7 payload of a stored event, without `delivery_id` (the feed's item shape)."""
    return {
        "id": str(row["id"]),
        "type": row["type"],
        "timestamp": row["created_at"],
        "tenant": tenant_slug,
        "resource": {"type": row["resource_type"], "id": row["resource_id"]},
        "data": row["data"],
    }


async def list_events(
    db: TenantDb,
    *,
    tenant_slug: str,
    after: int | None,
    event_type: str | None,
    updated_since: str | None,
    page: PageRequest,
) -> Page:
    def read(tx: TenantTx) -> Page:
        rows, total = tx.events.list_events(
            after=after,
            event_type=event_type,
            updated_since=updated_since,
            limit=page.per_page,
            offset=page.offset,
        )
        return Page(items=[feed_item(r, tenant_slug) for r in rows], total=total, request=page)

    return await db.read(read)
