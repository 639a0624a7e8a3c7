"""Idempotency-Key records (SPEC §3): find one, mark the work applied, keep the response.

The HTTP rules (which requests, what "the same request" means, replays) are in
`api/idempotency.py`; this is what they ask of the tenant's data. A keyed request costs one
read and two writes at most: the work itself with its `applied` mark (one transaction, so
a crash can never leave the two apart), then the response kept for replays.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from reliatic_appliance.ports import (
    APPLIED,
    DONE,
    IDEMPOTENCY_RETENTION,
    Row,
    TenantDb,
    TenantTx,
)
from reliatic_appliance.timefmt import format_ts

__all__ = ["APPLIED", "DONE", "Claim", "find", "keep", "mark_applied", "purge_expired"]


@dataclass(frozen=True)
class Claim:
    """One request's claim on an Idempotency-Key of one principal."""

    principal: str
    key: str
    method: str
    path: str
    request_hash: bytes
    created_at: str


async def find(db: TenantDb, principal: str, key: str, *, now: datetime) -> Row | None:
    """The key's record if it was made in the last 24 hours, else None."""
    record = await db.read(lambda tx: tx.idempotency.get(principal, key), snapshot=False)
    if record is None or record["created_at"] < format_ts(now - IDEMPOTENCY_RETENTION):
        return None
    return record


def _claim(tx: TenantTx, claim: Claim, state: str) -> None:
    tx.idempotency.claim(
        principal=claim.principal,
        key=claim.key,
        method=claim.method,
        path=claim.path,
        request_hash=claim.request_hash,
        created_at=claim.created_at,
        state=state,
    )


def mark_applied(tx: TenantTx, claim: Claim) -> None:
    """Inside the work's own transaction: the work and this mark commit together."""
    _claim(tx, claim, APPLIED)


async def keep(db: TenantDb, claim: Claim, *, status: int, headers: str, body: bytes) -> None:
    """Store the response for replays (the record is made here if the work wrote nothing)."""

    def write(tx: TenantTx) -> None:
        if tx.idempotency.get(claim.principal, claim.key) is None:
            _claim(tx, claim, DONE)
        tx.idempotency.store_response(
            claim.principal, claim.key, status=status, headers=headers, body=body
        )

    await db.write(write)


async def purge_expired(db: TenantDb, *, now: datetime) -> int:
    """Drop the records past their 24 hours (the scheduler's housekeeping); how many went."""
    cutoff = format_ts(now - IDEMPOTENCY_RETENTION)
    return await db.write(lambda tx: tx.idempotency.purge_before(cutoff))
