"""Why apsw on the loop + one writer thread with group commit (docs/design.md).

Measures, on one 100k-row table with `synchronous=FULL` in WAL mode, in one run:
- a primary-key read: apsw called on the event loop vs aiosqlite (a thread hop per call);
- a page of 25 with COUNT(*) over a filter: the same two;
- acknowledged inserts from 64 concurrent tasks: one COMMIT (one fsync) per insert vs the
  project's `Database.write` group commit. Every insert is durable before it is counted.

Each figure is a median of 3 runs. Prints a table; run: `python bench/storage_choice.py`.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiosqlite

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reliatic_appliance.storage.sqlite import Database, connect
from reliatic_appliance.storage.transactions import SqliteTenantTx

ROWS = 100_000
READS = 5_000
PAGES = 300
WRITES = 3_000
CONCURRENCY = 64
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, kind TEXT NOT NULL,"
    " name TEXT NOT NULL, value REAL)"
)


def build(path: Path) -> None:
    conn = connect(path)
    conn.execute(SCHEMA)
    conn.execute("CREATE INDEX IF NOT EXISTS items_kind ON items (kind, id)")
    conn.execute("BEGIN")
    for n in range(ROWS):
        conn.execute(
            "INSERT INTO items (kind, name, value) VALUES (?, ?, ?)",
            (("vessel", "piping", "tank", "rotating", "heat_exchanger")[n % 5], f"I-{n}", n),
        )
    conn.execute("COMMIT")
    conn.close()


async def timed(fn: Callable[[], Awaitable[int]]) -> float:
    start = time.perf_counter()
    count = await fn()
    return (time.perf_counter() - start) / count


async def bench_reads(path: Path) -> dict[str, float]:
    db = Database(path, SqliteTenantTx)
    ids = [(n * 7919) % ROWS + 1 for n in range(READS)]

    async def apsw_pk() -> int:
        for i in ids:
            db.read_now(
                lambda c, i=i: c.conn.execute("SELECT * FROM items WHERE id = ?", (i,)).fetchone()
            )
        return len(ids)

    async def apsw_page() -> int:
        for n in range(PAGES):
            db.read_now(
                lambda c, n=n: (
                    c.conn.execute("SELECT COUNT(*) FROM items WHERE kind = 'tank'").fetchone(),
                    list(
                        c.conn.execute(
                            "SELECT * FROM items WHERE kind = 'tank' ORDER BY id LIMIT 25 OFFSET ?",
                            (n * 25,),
                        )
                    ),
                )
            )
        return PAGES

    async with aiosqlite.connect(path) as conn:

        async def aio_pk() -> int:
            for i in ids:
                async with conn.execute("SELECT * FROM items WHERE id = ?", (i,)) as cur:
                    await cur.fetchone()
            return len(ids)

        async def aio_page() -> int:
            for n in range(PAGES):
                async with conn.execute("SELECT COUNT(*) FROM items WHERE kind = 'tank'") as c:
                    await c.fetchone()
                async with conn.execute(
                    "SELECT * FROM items WHERE kind = 'tank' ORDER BY id LIMIT 25 OFFSET ?",
                    (n * 25,),
                ) as c:
                    await c.fetchall()
            return PAGES

        result = {
            "pk_apsw": statistics.median([await timed(apsw_pk) for _ in range(3)]),
            "pk_aiosqlite": statistics.median([await timed(aio_pk) for _ in range(3)]),
            "page_apsw": statistics.median([await timed(apsw_page) for _ in range(3)]),
            "page_aiosqlite": statistics.median([await timed(aio_page) for _ in range(3)]),
        }
    db.close()
    return result


async def concurrent(n: int, job: Callable[[int], Awaitable[None]]) -> float:
    queue = list(range(n))

    async def worker() -> None:
        while queue:
            await job(queue.pop())

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return n / (time.perf_counter() - start)


async def bench_writes(path: Path) -> dict[str, float]:
    async with aiosqlite.connect(path) as conn:
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=FULL")
        lock = asyncio.Lock()

        async def one_commit_each(n: int) -> None:
            async with lock:
                await conn.execute("BEGIN IMMEDIATE")
                await conn.execute(
                    "INSERT INTO items (kind, name, value) VALUES ('tank', ?, ?)", (f"W-{n}", n)
                )
                await conn.commit()

        naive = [await concurrent(WRITES // 3, one_commit_each) for _ in range(3)]
    db = Database(path, SqliteTenantTx)

    async def grouped(n: int) -> None:
        await db.write(
            lambda c: c.conn.execute(
                "INSERT INTO items (kind, name, value) VALUES ('tank', ?, ?)", (f"G-{n}", n)
            )
        )

    group = [await concurrent(WRITES, grouped) for _ in range(3)]
    stats = db.stats
    db.close()
    return {
        "writes_naive_per_s": statistics.median(naive),
        "writes_group_per_s": statistics.median(group),
        "jobs_per_commit": stats.jobs / max(stats.transactions, 1),
    }


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        build(path)
        reads = await bench_reads(path)
        writes = await bench_writes(path)
    print(f"{'measure':<38}{'apsw / group':>16}{'aiosqlite / naive':>20}{'ratio':>8}")
    for label, mine, other in [
        ("primary-key read (µs)", reads["pk_apsw"] * 1e6, reads["pk_aiosqlite"] * 1e6),
        (
            "page of 25 + COUNT over 20k (µs)",
            reads["page_apsw"] * 1e6,
            reads["page_aiosqlite"] * 1e6,
        ),
    ]:
        print(f"{label:<38}{mine:>16.1f}{other:>20.1f}{other / mine:>7.1f}x")
    print(
        f"{'acknowledged inserts/s, 64 tasks':<38}{writes['writes_group_per_s']:>16.0f}"
        f"{writes['writes_naive_per_s']:>20.0f}"
        f"{writes['writes_group_per_s'] / writes['writes_naive_per_s']:>7.1f}x"
    )
    print(f"group commit: {writes['jobs_per_commit']:.1f} inserts per fsync on average")


if __name__ == "__main__":
    asyncio.run(main())
