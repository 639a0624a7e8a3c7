"""The writer of a SQLite file (storage/sqlite.py): group commit, and writes that linger.

A lingering write (the scheduler's delivery results) waits a little for company so that
many share one commit; a write that does not linger (every request's) is never held back by
them. Either way a job's failure rolls back its own writes only, and its future resolves
after COMMIT. Real files in a temp dir; the only waits are the lingers themselves.
"""

from __future__ import annotations

import asyncio
import os
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


def temp_files() -> set[str]:
    """The temp files this process has open: unnamed (Linux's O_TMPFILE, which /proc shows
    as `#<inode> (deleted)`; SQLite's, and pytest's output capture), or SQLite's older
    `etilqs_*`, unlinked as soon as opened."""
    found = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # closed meanwhile
        if target.endswith(" (deleted)") and ("/#" in target or "/etilqs_" in target):
            found.add(target)
    return found


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads /proc (Linux)")
async def test_a_job_s_savepoint_journal_stays_in_memory(
    db: Database[SqliteTenantTx],
) -> None:
    """Each job runs in a SAVEPOINT, which journals the pages it changes. On disk, SQLite
    spills that journal to a temp file past 64 KiB (one asset's POST changes about 20
    pages) and keeps it, growing, for the whole group: strace counted 45 pwrite() calls a
    POST under load. The writer keeps it in memory instead."""

    def fill(tx: SqliteTenantTx) -> None:
        tx.conn.execute("CREATE TABLE pages (id INTEGER PRIMARY KEY, body BLOB)")
        tx.conn.executemany(
            "INSERT INTO pages (id, body) VALUES (?, randomblob(400))",
            [(i,) for i in range(2000)],
        )

    await db.write(fill)
    open_before = temp_files()

    def rewrite(tx: SqliteTenantTx) -> tuple[int, set[str]]:
        # Changes every page of the table (about 200 of 4 KiB): far past the spill size.
        tx.conn.execute("UPDATE pages SET body = randomblob(400)")
        return tx.conn.changes(), temp_files() - open_before

    def rolled_back(tx: SqliteTenantTx) -> None:
        tx.conn.execute("UPDATE pages SET body = NULL")
        raise RuntimeError("undo me")

    changed = db.write(rewrite, linger=0.2)
    failing = db.write(rolled_back, linger=0.2)
    assert await changed == (2000, set())
    with pytest.raises(RuntimeError, match="undo me"):
        await failing
    # The journal still undoes a failed job: its own changes only.
    conn = connect(db.path)
    try:
        row = conn.execute("SELECT COUNT(*) AS n FROM pages WHERE body IS NULL").fetchone()
    finally:
        conn.close()
    assert row == {"n": 0}
    assert db.stats.transactions == 2
