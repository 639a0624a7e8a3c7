"""Claiming due deliveries (SPEC §7): a lease on each row, and its body encoded at the claim.

A claim leases due rows in one write, so neither a second tick nor a second process on the
same data dir can send one at the same time. The lease outlasts the send: a claimed row must
start sending within START_WITHIN of its claim or it is given back unsent, and a send ends
within the request timeout, so every send ends inside its lease (timeout + LEASE_MARGIN) and
two senders can never overlap, however long a hung receiver holds a slot. A delivery whose
lease expires (the process died mid-send) is claimed again: at least once, never lost.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from reliatic_appliance.ports import TenantDb
from reliatic_appliance.services import deliveries
from reliatic_appliance.services.events import feed_item

Row = dict[str, Any]

# Extra lease time beyond the request timeout, for recording the outcome.
LEASE_MARGIN = timedelta(seconds=30)
START_WITHIN = LEASE_MARGIN / 2
# Rows claimed per tenant in one claim (one transaction, one fsync): enough to keep a fast
# receiver busy between claims; a subscription gets more only once its queue runs low.
CLAIM_BATCH = 256
# One encoder: `json.dumps` with non-default separators builds a new one at every call.
_COMPACT = json.JSONEncoder(separators=(",", ":"))


@dataclass(frozen=True, eq=False)
class Claimed:
    """A claimed outbox row, its §7 body encoded at the claim but for its delivery_id, and
    the time its send must start by (or the row is given back unsent)."""

    row: Row
    head: bytes
    tail: bytes
    start_by: datetime

    def body(self) -> bytes:
        return self.head + json.dumps(self.row["id"]).encode() + self.tail


async def claim(
    db: TenantDb,
    tenant_slug: str,
    *,
    owner: str,
    now: datetime,
    timeout_seconds: float,
    skip_webhooks: list[str],
) -> tuple[list[Claimed], bool]:
    """Lease up to CLAIM_BATCH due rows of one tenant, each with its body; and whether the
    claim took all it could (then more may be due)."""
    lease = deliveries.Lease(owner, now + timedelta(seconds=timeout_seconds) + LEASE_MARGIN)
    got = await deliveries.claim_due(
        db, lease, now=now, limit=CLAIM_BATCH, skip_webhooks=skip_webhooks
    )
    start_by = now + START_WITHIN
    items = []
    for row in got.rows:
        parts = _body_parts_of(row, got.events, tenant_slug)
        if parts is not None:  # no event row (the cascade makes that impossible): never sent
            items.append(Claimed(row, *parts, start_by=start_by))
    return items, len(got.rows) >= CLAIM_BATCH


def _body_parts_of(
    row: Row, events: dict[int, Row], tenant_slug: str
) -> tuple[bytes, bytes] | None:
    if row["payload"] is not None:  # a ping: no event row, its payload is stored
        return body_parts(json.loads(row["payload"]), raw={})
    event = events.get(row["event_id"])
    if event is None:
        return None
    # The event's data stays the compact JSON text it is stored as (storage/events.py):
    # spliced into the body as is, rather than decoded at the claim and encoded again.
    item = feed_item(event, tenant_slug)
    return body_parts(item, raw={"data": item.pop("data")})


def body_parts(payload: Row, *, raw: dict[str, str]) -> tuple[bytes, bytes]:
    """The body of a delivery of `payload`, in two parts: the delivery_id goes between them.

    The compact JSON of `{"id": ..., "delivery_id": ..., **payload, **raw}`, where the
    values in `raw` are JSON text already and are spliced in as they are (the rest is what
    `json.dumps` with compact separators gives). Built at the claim; the send only adds
    the delivery_id between the two parts.
    """
    rest = _COMPACT.encode({k: v for k, v in payload.items() if k not in ("id", "delivery_id")})
    fields = [rest[1:-1], *(f"{_COMPACT.encode(key)}:{value}" for key, value in raw.items())]
    tail = "".join(f",{field}" for field in fields if field)
    return f'{{"id":{_COMPACT.encode(payload["id"])},"delivery_id":'.encode(), f"{tail}}}".encode()
