"""PostgreSQL units of work: `ports.TenantDb` / `ports.ControlDb` over one connection pool.

A unit of work is synchronous code `fn(tx)` (ports/__init__.py); here it runs in a worker
thread on a pooled connection, inside ONE transaction, and the awaitable resolves after
COMMIT. Every tenant transaction first sets `app.tenant_id` with `set_config(…, true)`:
transaction-local, so a connection back in the pool carries no tenant, and the row level
security policies (tenant tables, migrations/0001_control.sql) see exactly this tenant.

- Reads: `REPEATABLE READ, READ ONLY`, one snapshot for every query of the unit.
- Writes: READ COMMITTED after `pg_advisory_xact_lock(<64-bit hash of the tenant id>)`:
  one writer per tenant across every node, the guarantee SQLite's single writer gives, so
  read-then-write logic in the services (audit chain heads, counters, SLA escalation,
  idempotency) stays right with several nodes. Control writes take one lock of their own.
- The lock waits at most `lock_timeout` (the `[storage] busy_timeout_ms`); past it, like a
  lost connection or an exhausted pool, the request is a 503 (`errors.translate`).

`linger` is accepted and ignored: group commit is a SQLite optimisation (one fsync for many
small writes); PostgreSQL commits each transaction in its own WAL flush, shared by the
server's own group commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, TypeVar

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from reliatic_appliance.errors import Unavailable
from reliatic_appliance.storage.postgresql import types
from reliatic_appliance.storage.postgresql.errors import translate
from reliatic_appliance.storage.sqlite import CommitObserver

log = logging.getLogger(__name__)

T = TypeVar("T")
TxT = TypeVar("TxT")
Row = dict[str, Any]
Cursor = psycopg.Cursor[Row]

# The advisory lock key space: a tenant's writes lock hashtextextended(<tenant id>, 0);
# control writes and the migration run use these names, which no tenant id can equal.
CONTROL_LOCK = "reliatic:control"
MIGRATION_LOCK = "reliatic:migrations"

_BEGIN_READ = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"
_SCOPE = "SELECT set_config('app.tenant_id', %s, true)"
_SCOPE_AND_LOCK = (
    "SELECT set_config('app.tenant_id', %s, true), pg_advisory_xact_lock(hashtextextended(%s, 0))"
)
_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"


class PgPool:
    """One pool of connections to the database and the threads units of work run on.

    Shared by the control database and every tenant's (`PgDatabase`): a unit of work holds a
    connection for its whole transaction, so the threads are as many as the connections.
    """

    def __init__(
        self,
        dsn: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        timeout_s: float = 5.0,
        name: str = "reliatic",
    ) -> None:
        self.timeout_s = timeout_s
        lock_timeout_ms = max(1, int(timeout_s * 1000))

        def configure(conn: psycopg.Connection[Any]) -> None:
            types.configure(conn)
            conn.execute("SELECT set_config('lock_timeout', %s, false)", (f"{lock_timeout_ms}ms",))

        self.pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            open=False,
            configure=configure,
            timeout=timeout_s,
            name=name,
        )
        self._executor = ThreadPoolExecutor(max_workers=max_size, thread_name_prefix="pg")
        self._closed = False

    def open(self) -> None:
        """Connect (blocking): fails with `Unavailable` if the database cannot be reached."""
        try:
            self.pool.open(wait=True, timeout=max(self.timeout_s, 10.0))
        except Exception as exc:
            self.pool.close()
            self._executor.shutdown(wait=False)
            raise Unavailable("The PostgreSQL database cannot be reached.") from exc

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._executor.shutdown(wait=True)
        self.pool.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def submit(self, work: Callable[[], T]) -> asyncio.Future[T]:
        """Run `work` on a worker thread (queued now, not when awaited)."""
        loop = asyncio.get_running_loop()
        if self._closed:
            future: asyncio.Future[T] = loop.create_future()
            future.set_exception(Unavailable("The database is closed."))
            return future
        return loop.run_in_executor(self._executor, work)

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection, in autocommit (the caller issues BEGIN/COMMIT)."""
        with self.pool.connection() as conn:
            yield conn


class PgDatabase(Generic[TxT]):
    """One tenant's data (or the control data, `tenant_id=None`) on a shared `PgPool`.

    Implements `ports.TenantDb` or `ports.ControlDb`, depending on `handle`: the factory of
    the transaction handle each unit of work receives (storage/postgresql/transactions.py).
    """

    def __init__(
        self,
        pool: PgPool,
        handle: Callable[[Cursor], TxT],
        *,
        tenant_id: str | None = None,
        read_handle: Callable[[Cursor], TxT] | None = None,
        on_commit: CommitObserver | None = None,
    ) -> None:
        self._pool = pool
        # /metrics' commit families, as SQLite's group commit reports them (metrics.py):
        # here every write transaction is its own commit, a group of one.
        self._on_commit = on_commit
        self._handle = handle
        # Reads may get a handle of their own (the control data's remembers what it reads;
        # a write must not, it could remember what it then rolls back).
        self._read_handle = read_handle or handle
        self.tenant_id = tenant_id

    @property
    def pool(self) -> PgPool:
        return self._pool

    async def read(self, fn: Callable[[TxT], T], *, snapshot: bool = True) -> T:
        """`fn(tx)` in one read-only snapshot; `snapshot=False` lets each statement see the
        newest data (a control read of one statement then needs no BEGIN/COMMIT at all)."""
        return await self._pool.submit(lambda: self._run(fn, write=False, snapshot=snapshot))

    def write(self, fn: Callable[[TxT], T], *, linger: float = 0.0) -> asyncio.Future[T]:
        """`fn(tx)` in one write transaction; the future resolves after COMMIT.

        Queued at the call, like the SQLite backend's, and shielded: a client that goes away
        must not stop us from learning the outcome.
        """
        del linger  # module doc
        return asyncio.shield(self._pool.submit(lambda: self._run(fn, write=True, snapshot=True)))

    async def ping(self) -> None:
        await self.read(lambda _tx: None, snapshot=False)

    def close(self) -> None:
        """Nothing of its own to close: the pool is closed by its owner."""

    # -- on a worker thread --------------------------------------------------------------

    def _run(self, fn: Callable[[TxT], T], *, write: bool, snapshot: bool) -> T:
        try:
            with self._pool.connection() as conn:
                cur = conn.cursor(row_factory=dict_row)
                try:
                    return self._transaction(conn, cur, fn, write=write, snapshot=snapshot)
                finally:
                    cur.close()
        except psycopg.Error as exc:
            raise translate(exc) from exc
        except Exception as exc:
            # psycopg_pool's PoolTimeout is not a psycopg.Error.
            mapped = translate(exc)
            if mapped is exc:
                raise
            raise mapped from exc

    def _transaction(
        self,
        conn: psycopg.Connection[Any],
        cur: Cursor,
        fn: Callable[[TxT], T],
        *,
        write: bool,
        snapshot: bool,
    ) -> T:
        tenant = self.tenant_id
        handle = self._handle if write else self._read_handle
        if not write and not snapshot and tenant is None:
            # Control data has no row security to scope: statements run on their own.
            return fn(handle(cur))
        if write:
            cur.execute("BEGIN")
            if tenant is None:
                cur.execute(_LOCK, (CONTROL_LOCK,))
            else:
                cur.execute(_SCOPE_AND_LOCK, (tenant, tenant))
        else:
            cur.execute(_BEGIN_READ if snapshot else "BEGIN READ ONLY")
            if tenant is not None:
                cur.execute(_SCOPE, (tenant,))
        try:
            result = fn(handle(cur))
        except BaseException:
            _rollback(conn)
            raise
        if not write or self._on_commit is None:
            conn.execute("COMMIT")
            return result
        started = time.perf_counter()
        try:
            conn.execute("COMMIT")
        except BaseException:
            self._on_commit(1, time.perf_counter() - started, False)
            raise
        self._on_commit(1, time.perf_counter() - started, True)
        return result


def _rollback(conn: psycopg.Connection[Any]) -> None:
    # The connection may be gone with the error; the pool then discards it.
    with contextlib.suppress(psycopg.Error):
        conn.execute("ROLLBACK")


class Memo:
    """What the control data's readers remember across units of work, valid for one
    version of the control data (storage/postgresql/control.py `remembered`).

    Shared by the worker threads of one process, hence the lock; bounded like SQLite's.
    """

    MAX_VALUES = 1024

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: int | None = None
        self._values: dict[tuple[Any, ...], Any] = {}

    def get(self, version: int, key: tuple[Any, ...]) -> tuple[bool, Any]:
        with self._lock:
            if self._version != version:
                return False, None
            if key in self._values:
                return True, self._values[key]
            return False, None

    def put(self, version: int, key: tuple[Any, ...], value: Any) -> None:
        with self._lock:
            if self._version is None or version > self._version:
                self._version = version
                self._values = {}
            elif version < self._version:
                return  # computed under an older version than one already seen: drop it
            if len(self._values) >= self.MAX_VALUES:
                self._values.clear()
            self._values[key] = value
