"""One SQLite database file: a read connection for the event loop, one writer thread.

Every file the server opens goes through apsw only (SPEC §8: mixing bindings on one file
can drop POSIX locks and corrupt it). Reads are short indexed queries, run directly on the
event loop thread with their own connection (~20 µs a primary-key lookup, measured on the
prototype; a thread hop costs more than the query). Writes go to one writer thread per
file with *group commit*: every job waiting when the writer wakes runs inside one
`BEGIN IMMEDIATE … COMMIT`, each job inside its own SAVEPOINT so one failing job rolls back
alone, and the jobs' futures resolve only after COMMIT has returned — so many requests
share one fsync and no response is ever sent before its data is durable (`synchronous=FULL`).
A write may also *linger*: the writer then waits a little for more jobs before it begins,
so the scheduler's many small delivery results share one commit; a job that does not
linger (every request's) ends the wait at once.

An apsw connection must never be used by two threads at once: the read connection belongs
to the event loop thread, the write connection to the writer thread, and nothing else
touches either.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import apsw

from reliatic_appliance.errors import Unavailable

log = logging.getLogger(__name__)

T = TypeVar("T")
# Told of every group commit from the writer thread: (jobs in the group, seconds the COMMIT
# took, whether it succeeded). /metrics observes it (metrics.py), so storage imports no
# metrics library; it must be quick and thread-safe, and never raise.
CommitObserver = Callable[[int, float, bool], None]
# The transaction handle a `Database` gives its units of work (storage/transactions.py).
TxT = TypeVar("TxT")
Row = dict[str, Any]

# Most jobs a single group commit takes; bounds how long one transaction holds the lock.
MAX_GROUP = 256
# The read connection maps the file (virtual address space, not memory): a page is then read
# from the OS page cache in place, with no read() call and no copy into SQLite's own cache,
# which a commit by the writer empties. List pages of scattered rows read 25% faster
# (bench/, issue 7). Only the reader maps; writes go through the writer's plain I/O.
READ_MMAP_BYTES = 1 << 30

# Errors that mean "the disk or the lock is not available right now" (SPEC §8): a 503, and
# the next write after space is freed works without a restart.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    apsw.BusyError,
    apsw.LockedError,
    apsw.FullError,
    apsw.IOError,
    apsw.CantOpenError,
    apsw.ReadOnlyError,
)


class Connection(apsw.Connection):
    """An apsw connection that can carry what its owner remembers between uses.

    `memo` belongs to whoever owns the connection (one thread only, like the connection);
    `storage/snapshot.py` keeps list totals and query plans there, so no module holds
    mutable state and a cache dies with its connection.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.memo: dict[str, Any] = {}

    def close(self, force: bool = False) -> None:
        signal = self.memo.pop("wal_signal", None)
        if signal is not None:
            signal.close()  # the -shm file descriptor of storage/wal_signal.py
        super().close(force)


# Statements whose column names a connection's row tracer keeps (`_dict_row_tracer`): far
# more than the code has, so a cache that fills up means SQL text made from data.
MAX_NAMED_STATEMENTS = 1024


def _dict_row_tracer() -> Callable[[apsw.Cursor, tuple[Any, ...]], Row]:
    """A row tracer that makes each row a dict, for one connection.

    A statement's column names are read once per SQL text and kept here: reading them from
    the cursor for every row cost about 7 us of a GET's 10 us row read (`make bench`, "GET
    one asset"). A statement whose result has as many columns as the kept names has those
    names: the schema does not change under a running connection (migrations run before the
    server opens its connections), and a different count reads the names again.

    Never keep a cursor beyond its rows: an unfinished statement holds its read transaction
    (and so a stale snapshot) open.
    """
    names_of: dict[str, list[str]] = {}

    def trace(cursor: apsw.Cursor, row: tuple[Any, ...]) -> Row:
        sql = cursor.sql
        names = names_of.get(sql)
        if names is None or len(names) != len(row):
            names = [d[0] for d in cursor.get_description()]
            if len(names_of) >= MAX_NAMED_STATEMENTS:
                names_of.clear()
            names_of[sql] = names
        return dict(zip(names, row, strict=True))

    return trace


def connect(path: Path, *, busy_timeout_ms: int = 5000, readonly: bool = False) -> Connection:
    """Open `path` with the pragmas every connection needs (WAL, FULL sync, foreign keys)."""
    flags = apsw.SQLITE_OPEN_READONLY if readonly else apsw.SQLITE_OPEN_READWRITE
    if not readonly:
        flags |= apsw.SQLITE_OPEN_CREATE
    conn = Connection(str(path), flags=flags)
    conn.set_busy_timeout(busy_timeout_ms)
    if not readonly:
        conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.row_trace = _dict_row_tracer()
    return conn


@contextlib.contextmanager
def transaction(conn: apsw.Connection, *, immediate: bool = True) -> Iterator[apsw.Connection]:
    """A plain BEGIN/COMMIT block for single-threaded callers (migrations, the CLI)."""
    conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


@dataclass
class _Job:
    fn: Callable[[Any], Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    # `time.monotonic()` by which the job's group must begin: when it was queued, plus its
    # linger (none for a request: its group begins as soon as the writer is free).
    begin_by: float
    result: Any = None
    error: BaseException | None = None


@dataclass
class WriteStats:
    """Counters a benchmark or /metrics can read: how well group commit groups."""

    transactions: int = 0
    jobs: int = 0
    failed_commits: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class Database(Generic[TxT]):
    """A SQLite file opened for the server: `read()` on the loop, `write()` via the writer.

    Implements `ports.TenantDb` or `ports.ControlDb`, depending on `handle`: the factory of
    the transaction handle each unit of work receives.
    """

    def __init__(
        self,
        path: Path,
        handle: Callable[[apsw.Connection], TxT],
        *,
        busy_timeout_ms: int = 5000,
        on_commit: CommitObserver | None = None,
    ) -> None:
        self.path = path
        self._on_commit = on_commit
        self._busy_timeout_ms = busy_timeout_ms
        self._reader = connect(path, busy_timeout_ms=busy_timeout_ms)
        self._reader.execute(f"PRAGMA mmap_size={READ_MMAP_BYTES}")
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        # Set by every job that must not wait (and by close): it ends the writer's linger.
        # Lingering jobs only queue, so they do not wake the writer one by one (`_gather`).
        self._hurry = threading.Event()
        self._writer_conn = connect(path, busy_timeout_ms=busy_timeout_ms)
        # Each job's SAVEPOINT journals the pages the job changes (SQLite's sub-journal).
        # With temp files on disk, SQLite moves that journal into a temp file once it passes
        # 64 KiB (one asset's POST changes about 20 pages), then keeps that file, growing,
        # until the group commits: about 40 write() calls a POST, and a temp file made for
        # most commits. In memory it is emptied at each job's RELEASE. bench/cpu_per_request.py,
        # post, four on/off pairs: 585-694 -> 459-615 us of CPU a request (docs/design.md).
        self._writer_conn.execute("PRAGMA temp_store=MEMORY")
        # One handle per connection, made once: a handle and its stores hold nothing but the
        # connection, and making them anew for every read was measurable on a GET (make
        # bench, "GET one asset"). Each belongs to the thread that owns its connection.
        self._reader_tx = handle(self._reader)
        self._writer_tx = handle(self._writer_conn)
        self.stats = WriteStats()
        self._closed = False
        self._thread = threading.Thread(
            target=self._writer_loop, name=f"sqlite-writer:{path.name}", daemon=True
        )
        self._thread.start()

    # -- reads -------------------------------------------------------------------------

    async def read(self, fn: Callable[[TxT], T], *, snapshot: bool = True) -> T:
        """`ports.TenantDb.read`: `read_now`, behind the interface's coroutine (a
        PostgreSQL read awaits; this one runs at once, on the event loop thread)."""
        return self.read_now(fn, snapshot=snapshot)

    def read_now(self, fn: Callable[[TxT], T], *, snapshot: bool = True) -> T:
        """Run `fn(tx)` in one read transaction, so every query in it sees one snapshot.

        On the event loop thread: an indexed read costs less than a thread hop.

        `snapshot=False` leaves each statement in its own implicit transaction: for a
        single statement, or statements that need not agree with each other. It saves the
        BEGIN and COMMIT, and each statement here is also a handover of the GIL: apsw
        releases it around SQLite calls, and getting it back can mean waiting for the
        writer thread's Python (a third of a GET's time under a write load, measured).

        Called on the event loop thread only. A transient error (a full or busy disk) is a
        503 like on the write path.
        """
        if self._closed:
            raise Unavailable("The database is closed.")
        conn = self._reader
        tx = self._reader_tx
        try:
            if not snapshot:
                return fn(tx)
            conn.execute("BEGIN")
            try:
                return fn(tx)
            finally:
                conn.execute("COMMIT")
        except TRANSIENT_ERRORS as exc:
            log.warning("read failed on %s: %s", self.path.name, type(exc).__name__)
            raise Unavailable() from exc

    async def ping(self) -> None:
        """One trivial query: does the file answer? (Readiness.)"""
        await self.read(lambda _tx: self._reader.execute("SELECT 1").fetchone())

    # -- writes ------------------------------------------------------------------------

    def write(self, fn: Callable[[TxT], T], *, linger: float = 0.0) -> asyncio.Future[T]:
        """Run `fn(tx)` in the writer thread inside a transaction; resolve after COMMIT.

        `fn` must be synchronous and must not keep references to the connection. Its
        exception is raised by the returned future; only its own writes are rolled back.

        The job is queued at the call (not when the future is awaited), so a caller may hold
        on to the future and look at it later. `linger`: seconds the writer may wait for more
        jobs before it begins this one's group (`_gather`); 0 for anyone waiting on the result.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        if self._closed:
            future.set_exception(Unavailable("The database is closed."))
            return future
        self._queue.put(_Job(fn, loop, future, begin_by=time.monotonic() + linger))
        if linger <= 0:
            self._hurry.set()
        # Shielded: a client that goes away must not stop us from learning the outcome.
        return asyncio.shield(future)

    def _writer_loop(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            batch, stop = self._gather(job)
            self._run_group(batch)
            if stop:
                return

    def _gather(self, first: _Job) -> tuple[list[_Job], bool]:
        """One group: `first`, the jobs already queued and, until the earliest `begin_by` of
        those in hand, the jobs that arrive meanwhile. True: stop after this group.

        While it lingers the writer sleeps on `_hurry`, not on the queue: a lingering job
        arriving then costs no thread wake-up (at a thousand deliveries a second those were
        measurable), and a job that must not wait sets `_hurry` after queueing, so it is
        taken at once. Clearing `_hurry` before looking at the queue means no set is lost.
        """
        batch = [first]
        begin_by = first.begin_by
        while True:
            self._hurry.clear()
            while len(batch) < MAX_GROUP:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    return batch, True
                batch.append(nxt)
                begin_by = min(begin_by, nxt.begin_by)
            wait = begin_by - time.monotonic()
            if wait <= 0 or len(batch) >= MAX_GROUP:
                return batch, False
            self._hurry.wait(wait)

    def _run_group(self, batch: list[_Job]) -> None:
        conn = self._writer_conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except TRANSIENT_ERRORS as exc:
            log.warning("cannot begin a write on %s: %s", self.path.name, type(exc).__name__)
            self._settle(batch, Unavailable())
            return
        for job in batch:
            try:
                conn.execute("SAVEPOINT job")
                job.result = job.fn(self._writer_tx)
                conn.execute("RELEASE job")
            except BaseException as exc:
                job.error = exc
                try:
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                except apsw.Error:
                    # SQLite may already have rolled the whole transaction back (e.g. on
                    # SQLITE_FULL); the COMMIT below then fails and settles every job.
                    pass
        committing = time.perf_counter()
        try:
            conn.execute("COMMIT")
        except BaseException as exc:
            log.warning("commit failed on %s: %s", self.path.name, type(exc).__name__)
            with contextlib.suppress(apsw.Error):
                conn.execute("ROLLBACK")
            with self.stats._lock:
                self.stats.failed_commits += 1
            self._observe(len(batch), time.perf_counter() - committing, ok=False)
            self._settle(batch, Unavailable())
            return
        self._observe(len(batch), time.perf_counter() - committing, ok=True)
        with self.stats._lock:
            self.stats.transactions += 1
            self.stats.jobs += len(batch)
        for job in batch:
            if isinstance(job.error, TRANSIENT_ERRORS):
                job.error = Unavailable()
        self._resolve(batch)

    def _observe(self, jobs: int, seconds: float, *, ok: bool) -> None:
        if self._on_commit is not None:
            try:
                self._on_commit(jobs, seconds, ok)
            except Exception:
                # Bookkeeping only: it must never cost the writes their outcome.
                log.exception("commit observer failed")

    def _settle(self, batch: list[_Job], error: BaseException) -> None:
        for job in batch:
            job.result, job.error = None, error
        self._resolve(batch)

    @staticmethod
    def _resolve(batch: list[_Job]) -> None:
        """Settle the jobs' futures on their loops: one wake-up of each loop per group, not
        one per job (a group of lingering results can hold a hundred)."""
        per_loop: dict[asyncio.AbstractEventLoop, list[_Job]] = {}
        for job in batch:
            per_loop.setdefault(job.loop, []).append(job)
        for loop, jobs in per_loop.items():
            with contextlib.suppress(RuntimeError):  # the loop has already closed
                loop.call_soon_threadsafe(_apply, jobs)

    # -- lifecycle ---------------------------------------------------------------------

    def close(self) -> None:
        """Finish queued writes, stop the writer, close both connections."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._hurry.set()  # a lingering group is written now, not after its linger
        self._thread.join()
        self._writer_conn.close()
        self._reader.close()


def _apply(jobs: list[_Job]) -> None:
    """On the jobs' loop: hand each future its result or error (unless cancelled meanwhile)."""
    for job in jobs:
        if job.future.done():
            continue
        if job.error is not None:
            job.future.set_exception(job.error)
        else:
            job.future.set_result(job.result)


def unique_failed(exc: apsw.ConstraintError, table: str, column: str) -> bool:
    """Whether `exc` is the UNIQUE constraint on `table.column`, not another constraint
    (NOT NULL, CHECK, a foreign key) that must not pass for a duplicate."""
    # getattr: apsw's stubs document Error.extendedresult but do not declare it.
    code = getattr(exc, "extendedresult", None)
    return code == apsw.SQLITE_CONSTRAINT_UNIQUE and f"{table}.{column}" in str(exc)


def scalar(conn: apsw.Connection, sql: str, params: Any = ()) -> Any:
    """The first column of the first row of a query that always returns one (a COUNT)."""
    row = conn.execute(sql, params).fetchone()
    if row is None:
        raise LookupError("query returned no row")
    return next(iter(row.values()))
