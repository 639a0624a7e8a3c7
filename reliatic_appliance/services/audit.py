"""The audit log (SPEC §5): who did which administrative act, from where, when, and what
changed, hash-chained so that `reliatic audit verify` proves nothing was altered or removed.

Every act is recorded by the service that performs it, inside the act's own transaction
(`record_control` for acts on control.db, `record_tenant` for acts on a tenant's file), so
an act and its entry commit or vanish together. A tenant's log is therefore two chains, one
per database; the API and the panel show them merged in time order, and the check walks
both. `changes` never holds a secret: `record_*` refuses a field whose name says it is one.
"""

from __future__ import annotations

import heapq
import itertools
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from reliatic_appliance.domain.audit_chain import (
    GENESIS,
    ChainBreak,
    ChainWalk,
    canonical,
    entry_hash,
)
from reliatic_appliance.ids import new_id
from reliatic_appliance.ports import (
    AuditFilter,
    AuditStore,
    ControlDb,
    ControlTx,
    Row,
    TenantDb,
    TenantTx,
)
from reliatic_appliance.services.paging import Page, PageRequest
from reliatic_appliance.timefmt import format_ts

# A field name containing one of these is refused in `changes` (a programming error, caught
# by the tests of every act): the log is read by auditors, never a place for a credential.
_SECRET_WORDS = ("secret", "password", "token", "hash", "cookie")
# Entries read per snapshot while walking a chain.
_WALK_BATCH = 1000

CONTROL_CHAIN = "control"
TENANT_CHAIN = "tenant"


@dataclass(frozen=True)
class Who:
    """Who performs an act: the actor (a key id, a user id, `cli:<os user>`, `scheduler`) and
    the client address it came from (None off the network)."""

    actor: str
    address: str | None = None

    def act(
        self,
        action: str,
        target_type: str | None = None,
        target_id: str | None = None,
        changes: Mapping[str, Any] | None = None,
    ) -> Act:
        return Act(self.actor, self.address, action, target_type, target_id, dict(changes or {}))


SCHEDULER = Who("scheduler")


@dataclass(frozen=True)
class Act:
    """One administrative act, as the audit log records it. `action` is `<thing>.<verb>`."""

    actor: str
    address: str | None
    action: str
    target_type: str | None = None
    target_id: str | None = None
    changes: Mapping[str, Any] = field(default_factory=dict)


def audit_url(url: str) -> str:
    """A URL as the log may keep it: no user info and no query, either of which can carry a
    credential (`https://user:pass@host/hook?token=…` → `https://host/hook?…`)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host if port is None else f"{host}:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "…" if parts.query else "", ""))


def _check_no_secret(changes: Mapping[str, Any]) -> None:
    for name, value in changes.items():
        lowered = name.lower()
        if any(word in lowered for word in _SECRET_WORDS):
            raise ValueError(f"audit changes must not hold a secret: {name!r}")
        if isinstance(value, Mapping):
            _check_no_secret(value)


def _append(store: AuditStore, act: Act, now: datetime) -> Row:
    _check_no_secret(act.changes)
    head = store.head()
    seq, prev_hash = (head[0] + 1, head[1]) if head is not None else (1, GENESIS)
    entry: Row = {
        "seq": seq,
        "id": new_id("aud", now=now.timestamp()),
        "at": format_ts(now),
        "actor": act.actor,
        "address": act.address,
        "action": act.action,
        "target_type": act.target_type,
        "target_id": act.target_id,
        # Through JSON once, so the hash covers exactly what a reader will parse back.
        "changes": json.loads(canonical(dict(act.changes))),
        "prev_hash": prev_hash,
    }
    entry["hash"] = entry_hash(entry)
    store.append({**entry, "changes": canonical(entry["changes"]).decode()})
    return entry


def record_control(tx: ControlTx, tenant_id: str, act: Act, *, now: datetime) -> Row:
    """Record an act on control data (keys, users, sessions, the tenant itself)."""
    return _append(tx.audit(tenant_id), act, now)


def record_tenant(tx: TenantTx, act: Act, *, now: datetime) -> Row:
    """Record an act on the tenant's own data (webhook subscriptions, deliveries)."""
    return _append(tx.audit, act, now)


async def record_for_every_tenant(control: ControlDb, act: Act, *, now: datetime) -> int:
    """Record an act on the whole data dir (a backup, a restore) in every tenant's log, in
    one transaction; return how many tenants it was recorded for."""

    def write(tx: ControlTx) -> int:
        tenants = tx.control.list_tenants()
        for tenant in tenants:
            record_control(tx, tenant["id"], act, now=now)
        return len(tenants)

    return await control.write(write)


# -- reading -------------------------------------------------------------------------------


def _view(row: Row, chain: str) -> Row:
    return {
        "id": row["id"],
        "created_at": row["at"],
        "updated_at": row["at"],
        "actor": row["actor"],
        "address": row["address"],
        "action": row["action"],
        "target_type": row["target_type"],
        "target_id": row["target_id"],
        "changes": json.loads(row["changes"]),
        "chain": chain,
        "seq": row["seq"],
        "prev_hash": row["prev_hash"],
        "hash": row["hash"],
    }


async def list_audit(
    control: ControlDb,
    db: TenantDb,
    tenant_id: str,
    flt: AuditFilter,
    sort: str | None,
    page: PageRequest,
) -> Page:
    """One page of the tenant's log: both chains merged in time order (`-created_at`:
    newest first). Each chain gives its first page*per_page entries, enough for any page."""
    newest_first = sort == "-created_at"
    need = page.page * page.per_page
    control_rows, control_total = await control.read(
        lambda tx: tx.audit(tenant_id).list_entries(flt, newest_first=newest_first, limit=need)
    )
    tenant_rows, tenant_total = await db.read(
        lambda tx: tx.audit.list_entries(flt, newest_first=newest_first, limit=need)
    )
    merged = heapq.merge(
        (_view(r, CONTROL_CHAIN) for r in control_rows),
        (_view(r, TENANT_CHAIN) for r in tenant_rows),
        key=lambda v: (v["created_at"], v["chain"], v["seq"]),
        reverse=newest_first,
    )
    items = list(itertools.islice(merged, page.offset, need))
    return Page(items=items, total=control_total + tenant_total, request=page)


# -- the chain check -----------------------------------------------------------------------


@dataclass(frozen=True)
class ChainReport:
    chain: str
    checked: int
    head_seq: int
    head_hash: str
    broken: ChainBreak | None


@dataclass(frozen=True)
class AuditCheck:
    """The result of walking both of a tenant's chains."""

    chains: tuple[ChainReport, ...]

    @property
    def ok(self) -> bool:
        return all(c.broken is None for c in self.chains)

    @property
    def checked(self) -> int:
        return sum(c.checked for c in self.chains)

    def problems(self) -> list[str]:
        return [f"{c.chain} chain: {c.broken.describe()}" for c in self.chains if c.broken]


def _parsed(row: Row) -> Row:
    try:
        changes = json.loads(row["changes"])
    except (TypeError, ValueError):
        changes = row["changes"]  # not JSON any more: its hash will not match
    return {**row, "changes": changes}


async def _walk(
    chain: str,
    read_head: Callable[[], Awaitable[tuple[int, str] | None]],
    read_batch: Callable[[int], Awaitable[list[Row]]],
) -> ChainReport:
    """Walk one chain up to the head recorded when the walk began (entries appended during
    the walk are newer than the check and are left for the next one)."""
    head = await read_head()
    head_seq, head_hash = head if head else (0, GENESIS)
    walk = ChainWalk()
    while walk.broken is None and walk.last_seq < head_seq:
        batch = await read_batch(walk.last_seq)
        if not batch:
            break
        for row in batch:
            if walk.last_seq >= head_seq or not walk.step(_parsed(row)):
                break
    walk.finish(head)
    return ChainReport(chain, walk.checked, head_seq, head_hash, walk.broken)


async def verify(control: ControlDb, db: TenantDb, tenant_id: str) -> AuditCheck:
    """Walk both of the tenant's chains; each report names the first entry that breaks."""
    control_report = await _walk(
        CONTROL_CHAIN,
        lambda: control.read(lambda tx: tx.audit(tenant_id).head()),
        lambda after: control.read(
            lambda tx: tx.audit(tenant_id).chain(after_seq=after, limit=_WALK_BATCH)
        ),
    )
    tenant_report = await _walk(
        TENANT_CHAIN,
        lambda: db.read(lambda tx: tx.audit.head()),
        lambda after: db.read(lambda tx: tx.audit.chain(after_seq=after, limit=_WALK_BATCH)),
    )
    return AuditCheck((control_report, tenant_report))
