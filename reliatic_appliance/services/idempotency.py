"""Idempotency-Key records (SPEC §3): find one, mark the work applied, keep the response.

The HTTP rules (which requests, what "the same request" means, replays) are in
`api/idempotency.py`; this is what they ask of the tenant's data. A keyed request costs one
read and two writes at most: the work itself with its `applied` mark (one transaction, so
a crash can never leave the two apart), then the response kept for replays.

Several nodes (SPEC §11) may each take a request with the same key at once: the in-process
single flight (`api/inflight.py`) holds only its own node's. So the work's transaction first
checks, under the tenant's write lock, that no other request has claimed the key since it
was looked up (`check_free`), and the response is kept only on the record of its own claim;
otherwise `TakenElsewhere` rolls the work back and the caller replays the other's response.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from reliatic_appliance.ports import (
    APPLIED,
    DONE,
    IDEMPOTENCY_RETENTION,
    IN_PROGRESS,
    Row,
    TenantDb,
    TenantTx,
)
from reliatic_appliance.timefmt import format_ts

__all__ = [
    "APPLIED",
    "DONE",
    "Claim",
    "TakenElsewhere",
    "check_free",
    "find",
    "keep",
    "mark_applied",
    "purge_expired",
]


class TakenElsewhere(Exception):
    """Another request with this key (on another node) claimed it after this one looked."""


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


def _is_mine(record: Row, claim: Claim) -> bool:
    return (
        record["created_at"] == claim.created_at
        and bytes(record["request_hash"]) == claim.request_hash
        and record["method"] == claim.method
        and record["path"] == claim.path
    )


def _held_by_another(record: Row | None, claim: Claim) -> bool:
    """A live record of another request: not this claim's, not abandoned, not expired."""
    if record is None or record["state"] == IN_PROGRESS or _is_mine(record, claim):
        return False
    expired_before = format_ts(datetime.fromisoformat(claim.created_at) - IDEMPOTENCY_RETENTION)
    return bool(record["created_at"] >= expired_before)


def check_free(tx: TenantTx, claim: Claim) -> None:
    """Inside the work's transaction, before the work: TakenElsewhere if another request
    claimed the key since `find` (the tenant's write lock makes this check final)."""
    if _held_by_another(tx.idempotency.get(claim.principal, claim.key), claim):
        raise TakenElsewhere


def mark_applied(tx: TenantTx, claim: Claim) -> None:
    """Inside the work's own transaction: the work and this mark commit together."""
    _claim(tx, claim, APPLIED)


async def keep(db: TenantDb, claim: Claim, *, status: int, headers: str, body: bytes) -> None:
    """Store the response for replays (the record is made here if the work wrote nothing);
    TakenElsewhere if another request holds the key."""

    def write(tx: TenantTx) -> None:
        record = tx.idempotency.get(claim.principal, claim.key)
        if _held_by_another(record, claim):
            raise TakenElsewhere  # never overwrite the other request's answer with ours
        if record is None or not _is_mine(record, claim):
            _claim(tx, claim, DONE)
        tx.idempotency.store_response(
            claim.principal, claim.key, status=status, headers=headers, body=body
        )

    await db.write(write)


async def purge_expired(db: TenantDb, *, now: datetime) -> int:
    """Drop the records past their 24 hours (the scheduler's housekeeping); how many went."""
    cutoff = format_ts(now - IDEMPOTENCY_RETENTION)
    return await db.write(lambda tx: tx.idempotency.purge_before(cutoff))
