"""The tenant database as one request's handler sees it: the request's guards inside each write.

Two HTTP-level rules must act *inside* the transaction that does a request's work, yet
neither belongs in the services:

- an `If-Match` precondition (`api/etags.py`) is compared with the row as it is in the very
  transaction that changes it, so no other write can slip in between check and change;
- the `Idempotency-Key` record (`api/idempotency.py`) is written `applied` in that same
  transaction, so after a crash it tells "work committed" from "work never happened".

A service takes a `ports.TenantDb` and calls `await db.write(fn)`. When a request has
guards, `Call.tenant_db()` hands it a `GuardedTenantDb`: another implementation of the same
interface, which runs `before` guards, then `fn`, then `after` guards as one unit of work
(any failure rolls all of it back). Reads pass straight through.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from reliatic_appliance.ports import TenantDb, TenantTx

T = TypeVar("T")
Guard = Callable[[TenantTx], None]


@dataclass
class WriteGuards:
    """What to run around every write of one request."""

    before: list[Guard] = field(default_factory=list)
    after: list[Guard] = field(default_factory=list)
    # True once a write of this request has committed.
    committed: bool = False

    def bind(self, db: TenantDb) -> TenantDb:
        """`db` itself when there is nothing to run, else `db` with these guards."""
        if not self.before and not self.after:
            return db
        return GuardedTenantDb(db, self)


class GuardedTenantDb:
    """`ports.TenantDb`: `db`, with a request's guards in each of its writes."""

    def __init__(self, db: TenantDb, guards: WriteGuards) -> None:
        self._db = db
        self._guards = guards

    def read(self, fn: Callable[[TenantTx], T], *, snapshot: bool = True) -> Awaitable[T]:
        return self._db.read(fn, snapshot=snapshot)

    def ping(self) -> Awaitable[None]:
        return self._db.ping()

    async def write(self, fn: Callable[[TenantTx], T], *, linger: float = 0.0) -> T:
        guards = self._guards

        def unit_of_work(tx: TenantTx) -> T:
            for guard in guards.before:
                guard(tx)
            result = fn(tx)
            for guard in guards.after:
                guard(tx)
            return result

        result = await self._db.write(unit_of_work, linger=linger)
        guards.committed = True
        return result
