"""The tenant database as one request's handler sees it: per-request hooks inside each write.

Two HTTP-level rules must act *inside* the transaction that does a request's work, yet
neither belongs in the services:

- an `If-Match` precondition (`api/etags.py`) is compared with the row as it is in the very
  transaction that changes it, so no other write can slip in between check and change;
- the `Idempotency-Key` record (`api/idempotency.py`) is marked `applied` in that same
  transaction, so after a crash it tells "work committed" from "work never happened".

A service takes a `Database` and calls `await db.write(fn)`; `Call.tenant_db()` hands it a
`RequestDatabase` instead when a hook is registered, which runs `before` hooks, then `fn`,
then `after` hooks in the same writer job (one SAVEPOINT: any failure rolls all back).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import apsw

from reliatic_appliance.storage.sqlite import Database

T = TypeVar("T")
JobHook = Callable[[apsw.Connection], None]


@dataclass
class WriteHooks:
    """What to run around every write job of one request."""

    before: list[JobHook] = field(default_factory=list)
    after: list[JobHook] = field(default_factory=list)
    # True once a write job of this request has committed.
    committed: bool = False

    def bind(self, db: Database) -> Database:
        """`db` itself when there is nothing to run, else a view that runs the hooks."""
        if not self.before and not self.after:
            return db
        return cast(Database, RequestDatabase(db, self))


class RequestDatabase:
    """A `Database` look-alike: reads pass through; writes run the request's hooks too."""

    def __init__(self, db: Database, hooks: WriteHooks) -> None:
        self._db = db
        self._hooks = hooks

    def read(self, fn: Callable[[apsw.Connection], T], *, snapshot: bool = True) -> T:
        return self._db.read(fn, snapshot=snapshot)

    async def write(self, fn: Callable[[apsw.Connection], T]) -> T:
        hooks = self._hooks

        def job(conn: apsw.Connection) -> T:
            for hook in hooks.before:
                hook(conn)
            result = fn(conn)
            for hook in hooks.after:
                hook(conn)
            return result

        result = await self._db.write(job)
        hooks.committed = True
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


class ConnReader:
    """A `Database` look-alike over one open connection: `read(fn)` is `fn(conn)`.

    Lets a service's read function (`get_asset(db, id)`) run inside a write job, so the
    precondition compares exactly the representation a GET returns.
    """

    def __init__(self, conn: apsw.Connection) -> None:
        self._conn = conn

    def read(self, fn: Callable[[apsw.Connection], T], *, snapshot: bool = True) -> T:
        return fn(self._conn)  # already inside the write job's transaction

    def as_database(self) -> Database:
        return cast(Database, self)
