"""The writer of a SQLite file (storage/sqlite.py): group commit, and writes that linger.

A lingering write (the scheduler's delivery results) waits a little for company so that
many share one commit; a write that does not linger (every request's) is never held back by
them. Either way a job's failure rolls back its own writes only, and its future resolves
after COMMIT. Real files in a temp dir; the only waits are the lingers themselves.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reliatic_appliance.storage.sqlite import Database, connect
from reliatic_appliance.storage.transactions import SqliteTenantTx

pytestmark = pytest.mark.sqlite_only(reason="the SQLite writer thread and its group commit")

TABLE = "CREATE TABLE IF NOT EXISTS notes (n INTEGER PRIMARY KEY)"


def open_db(path: Path) -> Database[SqliteTenantTx]:
    conn = connect(path)
    conn.execute(TABLE)
    conn.close()
    return Database(path, SqliteTenantTx)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database[SqliteTenantTx]]:
    database = open_db(tmp_path / "tenant.db")
    yield database
    database.close()


def note(n: int) -> Callable[[SqliteTenantTx], int]:
    def write(tx: SqliteTenantTx) -> int:
        tx.conn.execute("INSERT INTO notes (n) VALUES (?)", (n,))
        return n

    return write


def committed(path: Path) -> set[int]:
    """What another connection (another process, say) sees: only what was committed."""
    conn = connect(path)
    try:
        return {row["n"] for row in conn.execute("SELECT n FROM notes")}
    finally:
        conn.close()


async def test_lingering_writes_share_one_commit_and_resolve_after_it(
    db: Database[SqliteTenantTx],
) -> None:
    futures = [db.write(note(n), linger=0.3) for n in range(20)]
    assert await asyncio.gather(*futures) == list(range(20))
    assert committed(db.path) == set(range(20))  # resolved only once durable
    assert (db.stats.transactions, db.stats.jobs) == (1, 20)


async def test_a_write_that_does_not_linger_is_not_held_back_by_lingering_ones(
    db: Database[SqliteTenantTx],
) -> None:
    lingering = [db.write(note(n), linger=30) for n in range(5)]
    await asyncio.sleep(0.05)  # the writer is now waiting for more company
    started = time.monotonic()
    assert await db.write(note(99)) == 99
    assert time.monotonic() - started < 5  # not the 30 s the others may wait
    # It ended the wait for all: the lingering ones went into its commit.
    assert await asyncio.gather(*lingering) == list(range(5))
    assert committed(db.path) == {0, 1, 2, 3, 4, 99}
    assert db.stats.transactions == 1


async def test_a_failing_job_in_a_lingering_group_rolls_back_alone(
    db: Database[SqliteTenantTx],
) -> None:
    def fails(tx: SqliteTenantTx) -> None:
        tx.conn.execute("INSERT INTO notes (n) VALUES (7)")
        raise RuntimeError("this one only")

    first = db.write(note(1), linger=0.2)
    failing = db.write(fails, linger=0.2)
    last = db.write(note(2), linger=0.2)
    assert await first == 1 and await last == 2
    with pytest.raises(RuntimeError, match="this one only"):
        await failing
    assert committed(db.path) == {1, 2}
    assert db.stats.transactions == 1


async def test_writes_queued_before_close_are_committed(tmp_path: Path) -> None:
    database = open_db(tmp_path / "tenant.db")
    pending = database.write(note(5), linger=30)
    database.close()  # does not wait out the linger, and does not drop the job
    assert await pending == 5
    assert committed(database.path) == {5}
