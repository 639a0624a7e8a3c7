"""Webhook subscriptions and their delivery log (SPEC §5 Webhooks, §7).

Secrets are generated or validated here, encrypted with the master key (`SecretBox`) before
they reach storage, and returned in clear exactly once: on create and on rotation.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from reliatic_appliance.domain.event_types import EVENT_TYPES, PING
from reliatic_appliance.domain.signing import generate_secret, validate_secret
from reliatic_appliance.domain.target_policy import TargetPolicy, TargetRefused, check_url
from reliatic_appliance.errors import NotFound, ValidationError
from reliatic_appliance.ids import new_id
from reliatic_appliance.ports import TenantDb, TenantTx
from reliatic_appliance.secretbox import SecretBox
from reliatic_appliance.services.audit import Who, audit_url, record_tenant
from reliatic_appliance.services.paging import Page, PageRequest, read_page
from reliatic_appliance.settings import Settings
from reliatic_appliance.timefmt import format_ts

Row = dict[str, Any]

# SPEC §7: after a rotation both secrets sign for 24 hours.
ROTATION_OVERLAP = timedelta(hours=24)


def target_policy(settings: Settings) -> TargetPolicy:
    """Where deliveries may go, from `[webhooks]` (SPEC §7 target safety)."""
    hooks = settings.webhooks
    return TargetPolicy(
        allow_http=hooks.allow_http,
        allow_private=hooks.allow_private_targets,
        allow_loopback=hooks.allow_loopback_targets,
    )


def _associated(webhook_id: str) -> bytes:
    # Binds a ciphertext to its row: a secret copied into another row will not decrypt.
    return f"webhook:{webhook_id}".encode()


def public_view(row: Row) -> Row:
    return {
        "id": row["id"],
        "url": row["url"],
        "events": row["events"],
        "description": row["description"],
        "enabled": row["enabled"],
        "disabled_reason": row["disabled_reason"],
        "previous_secret_expires_at": row["previous_secret_expires_at"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def _check_url(url: str, policy: TargetPolicy) -> None:
    try:
        check_url(url, policy)
    except TargetRefused as exc:
        raise ValidationError.field("url", str(exc)) from None


def _check_events(events: list[str]) -> list[str]:
    unknown = [e for e in events if e not in EVENT_TYPES]
    if unknown:
        raise ValidationError.field("events", f"unknown event type: {unknown[0]}")
    if not events:
        raise ValidationError.field("events", "subscribe to at least one event type")
    return list(dict.fromkeys(events))


def _check_secret(secret: str | None) -> str:
    if secret is None:
        return generate_secret()
    try:
        validate_secret(secret)
    except ValueError as exc:
        raise ValidationError.field("secret", str(exc)) from None
    return secret


async def create_webhook(
    db: TenantDb,
    box: SecretBox,
    policy: TargetPolicy,
    *,
    url: str,
    events: list[str],
    secret: str | None,
    enabled: bool,
    description: str | None,
    by: Who,
    now: datetime,
) -> tuple[Row, str]:
    """Create a subscription; return its view and the secret (shown this once)."""
    _check_url(url, policy)
    events = _check_events(events)
    secret = _check_secret(secret)
    webhook_id = new_id("whk")
    row = {
        "id": webhook_id,
        "url": url,
        "events": events,
        "description": description,
        "enabled": enabled,
        "secret_enc": box.encrypt(secret, associated_data=_associated(webhook_id)),
        "created_at": format_ts(now),
    }

    def write(tx: TenantTx) -> Row:
        tx.webhooks.insert_webhook(row)
        created = tx.webhooks.get_webhook(webhook_id)
        assert created is not None
        audit_changes = {
            "url": audit_url(url),
            "events": events,
            "enabled": enabled,
            "description": description,
        }
        record_tenant(tx, by.act("webhook.created", "webhook", webhook_id, audit_changes), now=now)
        return created

    return public_view(await db.write(write)), secret


def load_webhook(tx: TenantTx, webhook_id: str) -> Row:
    """The representation a GET returns, inside the caller's transaction; 404 if none."""
    row = tx.webhooks.get_webhook(webhook_id)
    if row is None:
        raise NotFound(f"Webhook {webhook_id} not found.")
    return public_view(row)


async def get_webhook(db: TenantDb, webhook_id: str) -> Row:
    return await db.read(lambda tx: load_webhook(tx, webhook_id))


async def list_webhooks(db: TenantDb, page: PageRequest) -> Page:
    return await read_page(
        db,
        lambda tx, limit, offset: tx.webhooks.list_webhooks(limit=limit, offset=offset),
        page,
        lambda tx, rows: [public_view(r) for r in rows],
    )


async def update_webhook(
    db: TenantDb, policy: TargetPolicy, webhook_id: str, changes: Row, *, by: Who, now: datetime
) -> Row:
    if "url" in changes:
        _check_url(changes["url"], policy)
    if "events" in changes:
        changes["events"] = _check_events(changes["events"])
    if changes.get("enabled") is True:
        # Re-enabling after an automatic disable starts the failure count afresh.
        changes |= {"disabled_reason": None, "consecutive_failures": 0}

    def write(tx: TenantTx) -> Row:
        before = tx.webhooks.get_webhook(webhook_id)
        if before is None:
            raise NotFound(f"Webhook {webhook_id} not found.")
        # Like every partial update (SPEC §5): a PUT that changes nothing writes nothing, so
        # updated_at and the ETag stay put.
        changed = {k: v for k, v in changes.items() if before.get(k) != v}
        if changed:
            tx.webhooks.update_webhook(webhook_id, changed, format_ts(now))
            shown = {k: audit_url(v) if k == "url" else v for k, v in changed.items()}
            record_tenant(tx, by.act("webhook.updated", "webhook", webhook_id, shown), now=now)
        row = tx.webhooks.get_webhook(webhook_id)
        assert row is not None
        return row

    return public_view(await db.write(write))


async def delete_webhook(db: TenantDb, webhook_id: str, *, by: Who, now: datetime) -> None:
    """Remove the subscription with its pending deliveries and log."""

    def write(tx: TenantTx) -> None:
        row = tx.webhooks.get_webhook(webhook_id)
        if row is None or not tx.webhooks.delete_webhook(webhook_id):
            raise NotFound(f"Webhook {webhook_id} not found.")
        removed = {"url": audit_url(row["url"]), "events": row["events"]}
        record_tenant(tx, by.act("webhook.deleted", "webhook", webhook_id, removed), now=now)

    await db.write(write)


async def rotate_secret(
    db: TenantDb, box: SecretBox, webhook_id: str, *, secret: str | None, by: Who, now: datetime
) -> tuple[Row, str]:
    """A new secret, returned once; the old one keeps signing for 24 hours (SPEC §7)."""
    new_secret = _check_secret(secret)
    ad = _associated(webhook_id)

    def write(tx: TenantTx) -> Row:
        row = tx.webhooks.get_webhook(webhook_id)
        if row is None:
            raise NotFound(f"Webhook {webhook_id} not found.")
        tx.webhooks.update_webhook(
            webhook_id,
            {
                "secret_enc": box.encrypt(new_secret, associated_data=ad),
                "previous_secret_enc": row["secret_enc"],
                "previous_secret_expires_at": format_ts(now + ROTATION_OVERLAP),
            },
            format_ts(now),
        )
        updated = tx.webhooks.get_webhook(webhook_id)
        assert updated is not None
        overlap = {"previous_valid_until": updated["previous_secret_expires_at"]}
        record_tenant(tx, by.act("webhook.rotated", "webhook", webhook_id, overlap), now=now)
        return updated

    return public_view(await db.write(write)), new_secret


def signing_secrets(row: Row, box: SecretBox, now: datetime) -> list[str]:
    """Secrets that sign a delivery now: the previous one (while it overlaps) first."""
    ad = _associated(row["id"])
    secrets = []
    expires = row.get("previous_secret_expires_at")
    if row.get("previous_secret_enc") is not None and expires and expires > format_ts(now):
        secrets.append(box.decrypt(row["previous_secret_enc"], associated_data=ad))
    secrets.append(box.decrypt(row["secret_enc"], associated_data=ad))
    return secrets


# -- the delivery log ---------------------------------------------------------------------


def delivery_view(row: Row, attempts: list[Row]) -> Row:
    pending = row["status"] == "pending"
    return {
        "id": row["id"],
        "webhook_id": row["webhook_id"],
        "event_id": None if row["event_id"] is None else str(row["event_id"]),
        "event_type": row["event_type"],
        "status": row["status"],
        "attempt_count": row["attempts"],
        "attempts": [
            {
                "attempt": a["attempt"],
                "at": a["started_at"],
                "duration_ms": a["duration_ms"],
                "http_status": a["http_status"],
                "error": a["error"],
            }
            for a in attempts
        ],
        "next_attempt_at": row["next_attempt_at"] if pending else None,
        "last_http_status": row["last_status"],
        "last_error": row["last_error"],
        "created_at": row["created_at"],
        "completed_at": row["completed_at"],
    }


async def list_deliveries(
    db: TenantDb, webhook_id: str, *, status: str | None, page: PageRequest
) -> Page:
    def read(tx: TenantTx) -> Page:
        if tx.webhooks.get_webhook(webhook_id) is None:
            raise NotFound(f"Webhook {webhook_id} not found.")
        rows, total = tx.webhooks.list_deliveries(
            webhook_id, status=status, limit=page.per_page, offset=page.offset
        )
        attempts = tx.webhooks.attempts_of([r["id"] for r in rows])
        items = [delivery_view(r, attempts[r["id"]]) for r in rows]
        return Page(items=items, total=total, request=page)

    return await db.read(read)


def _delivery(tx: TenantTx, delivery_id: str) -> Row:
    row = tx.webhooks.get_delivery(delivery_id)
    if row is None:
        raise NotFound(f"Delivery {delivery_id} not found.")
    return delivery_view(row, tx.webhooks.attempts_of([delivery_id])[delivery_id])


async def get_delivery(db: TenantDb, delivery_id: str) -> Row:
    """One delivery with its attempts; 404 if this tenant has none with that id."""
    return await db.read(lambda tx: _delivery(tx, delivery_id))


async def redeliver(db: TenantDb, delivery_id: str, *, by: Who, now: datetime) -> Row:
    """Send again with the same delivery id (receivers de-duplicate on it), due now."""

    def write(tx: TenantTx) -> Row:
        before = _delivery(tx, delivery_id)
        tx.webhooks.requeue(delivery_id, format_ts(now))
        shown = {"webhook_id": before["webhook_id"], "previous_status": before["status"]}
        record_tenant(tx, by.act("delivery.redelivered", "delivery", delivery_id, shown), now=now)
        return _delivery(tx, delivery_id)

    return await db.write(write)


async def send_test(db: TenantDb, webhook_id: str, *, tenant_slug: str, now: datetime) -> Row:
    """Queue a `ping` to the subscription (whatever its event list); return the delivery."""
    stamp = format_ts(now)
    delivery_id = new_id("dlv")
    payload = {
        "id": f"ping_{delivery_id}",
        "type": PING,
        "timestamp": stamp,
        "tenant": tenant_slug,
        "resource": {"type": "webhook", "id": webhook_id},
        "data": {"before": None, "after": {"message": "Test delivery from Reliatic."}},
    }

    def write(tx: TenantTx) -> Row:
        if tx.webhooks.get_webhook(webhook_id) is None:
            raise NotFound(f"Webhook {webhook_id} not found.")
        tx.webhooks.insert_delivery(
            {
                "id": delivery_id,
                "webhook_id": webhook_id,
                "event_id": None,
                "event_type": PING,
                "payload": json.dumps(payload),
                "next_attempt_at": stamp,
                "created_at": stamp,
            },
        )
        return _delivery(tx, delivery_id)

    return await db.write(write)
