"""Which PostgreSQL driver for the storage seam (issue 15): psycopg 3 or asyncpg, measured.

The work is one unit of the server's: one transaction that scopes the tenant with
`set_config('app.tenant_id', …, true)`, reads one asset row by (tenant_id, id), inserts one
small row (an event) and commits, through the server's login role (row level security on),
on the real migrated schema. Each is run with 1 and with 16 concurrent workers, a pool as big
as the concurrency, each worker on its own tenant (as requests of several plants would be):

- psycopg 3, sync `ConnectionPool`, one thread per worker (the design: `fn(tx)` runs in a
  thread, pg-common.md);
- the same through `PgDatabase.write` as built (asyncio -> worker thread -> pool, plus the
  per-tenant advisory lock every write of the backend takes);
- psycopg 3, `AsyncConnectionPool`, one task per worker;
- asyncpg, its pool, one task per worker.

Prints a table (µs per transaction as each worker sees it, mean and p99; transactions per
second over all workers; client CPU per transaction; median of ROUNDS interleaved rounds) and
writes it to bench/results/pg_drivers.md (pg_drivers_durable.md with `--durable`). Starts its
own throwaway cluster (tests/pg_cluster.py), fsync off unless `--durable` (then on the disk,
as a production server commits).

Run: `python bench/pg_drivers.py [--seconds 3] [--rounds 3] [--durable]` (needs the `bench`
extra for asyncpg and the `test` extra for the cluster; PostgreSQL 15 server binaries, as
`make test-deps` installs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import psycopg  # noqa: E402
from psycopg_pool import AsyncConnectionPool, ConnectionPool  # noqa: E402

from reliatic_appliance.storage.postgresql.database import PgDatabase, PgPool  # noqa: E402
from tests.pg_cluster import OWNER_ROLE, PgCluster, find_bindir  # noqa: E402

ASSETS_PER_TENANT = 1000
TENANTS = 16
CONCURRENCY = (1, 16)
SCOPE = "SELECT set_config('app.tenant_id', %s, true)"
READ = "SELECT * FROM assets WHERE tenant_id = %s AND id = %s"
INSERT = (
    "INSERT INTO events (tenant_id, type, resource_type, resource_id, data, actor, created_at)"
    " VALUES (%s, 'asset.updated', 'asset', %s, '{\"bench\":true}', 'bench', now())"
)


def tenant(n: int) -> str:
    return f"ten_bench_{n:02d}"


def asset_id(n: int) -> str:
    return f"ast_{n:06d}"


def seed(admin_dsn: str) -> None:
    """TENANTS tenants of ASSETS_PER_TENANT assets each, as the owner (RLS forced: per tenant)."""
    with psycopg.connect(admin_dsn) as conn:
        for t in range(TENANTS):
            conn.execute("SELECT set_config('app.tenant_id', %s, true)", (tenant(t),))
            conn.execute(
                "INSERT INTO assets (tenant_id, id, tag_number, name, asset_type, created_at,"
                " updated_at) SELECT %s, 'ast_' || lpad(n::text, 6, '0'), 'T-' || n,"
                " 'Asset ' || n, 'vessel', now(), now() FROM generate_series(0, %s) n",
                (tenant(t), ASSETS_PER_TENANT - 1),
            )
            conn.commit()
        conn.execute("ANALYZE")
        conn.commit()


@dataclass
class Result:
    ops: int
    seconds: float
    latencies_us: list[float]
    cpu_seconds: float = 0.0  # this process, every thread: the driver's own cost

    @property
    def cpu_us(self) -> float:
        return self.cpu_seconds / self.ops * 1e6

    @property
    def per_second(self) -> float:
        return self.ops / self.seconds

    @property
    def mean_us(self) -> float:
        return statistics.fmean(self.latencies_us)

    @property
    def p99_us(self) -> float:
        ordered = sorted(self.latencies_us)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


# -- psycopg 3, sync pool, a thread per worker (the design) ---------------------------------------


def one_sync(conn: psycopg.Connection[Any], worker: int, i: int) -> None:
    ten = tenant(worker % TENANTS)
    with conn.transaction():
        conn.execute(SCOPE, (ten,))
        row = conn.execute(READ, (ten, asset_id(i % ASSETS_PER_TENANT))).fetchone()
        assert row is not None
        conn.execute(INSERT, (ten, asset_id(i % ASSETS_PER_TENANT)))


def run_threads(work: Callable[[int, int], None], workers: int, seconds: float) -> Result:
    latencies: list[list[float]] = [[] for _ in range(workers)]
    stop = time.perf_counter() + seconds
    start_line = threading.Barrier(workers + 1)

    def loop(worker: int) -> None:
        mine = latencies[worker]
        start_line.wait()
        i = 0
        while time.perf_counter() < stop:
            began = time.perf_counter()
            work(worker, i)
            mine.append((time.perf_counter() - began) * 1e6)
            i += 1

    threads = [threading.Thread(target=loop, args=(w,)) for w in range(workers)]
    for thread in threads:
        thread.start()
    start_line.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    flat = [x for mine in latencies for x in mine]
    return Result(len(flat), time.perf_counter() - began, flat)


def psycopg_sync(dsn: str, workers: int, seconds: float) -> Result:
    with ConnectionPool(dsn, min_size=workers, max_size=workers, open=True) as pool:
        pool.wait()

        def work(worker: int, i: int) -> None:
            with pool.connection() as conn:
                one_sync(conn, worker, i)

        return run_threads(work, workers, seconds)


# -- the backend as built: PgDatabase.write (loop -> thread -> pool, advisory lock) --------------


async def run_tasks(
    work: Callable[[int, int], Awaitable[None]], workers: int, seconds: float
) -> Result:
    latencies: list[list[float]] = [[] for _ in range(workers)]
    stop = time.perf_counter() + seconds

    async def loop(worker: int) -> None:
        mine = latencies[worker]
        i = 0
        while time.perf_counter() < stop:
            began = time.perf_counter()
            await work(worker, i)
            mine.append((time.perf_counter() - began) * 1e6)
            i += 1

    began = time.perf_counter()
    await asyncio.gather(*(loop(w) for w in range(workers)))
    flat = [x for mine in latencies for x in mine]
    return Result(len(flat), time.perf_counter() - began, flat)


def pgdatabase(dsn: str, workers: int, seconds: float) -> Result:
    async def main() -> Result:
        pool = PgPool(dsn, min_size=workers, max_size=workers)
        pool.open()
        try:
            dbs = [PgDatabase(pool, lambda cur: cur, tenant_id=tenant(t)) for t in range(TENANTS)]

            async def work(worker: int, i: int) -> None:
                ten, aid = tenant(worker % TENANTS), asset_id(i % ASSETS_PER_TENANT)

                def unit(cur: Any) -> None:
                    # PgDatabase.write already scoped the tenant and took its lock.
                    assert cur.execute(READ, (ten, aid)).fetchone() is not None
                    cur.execute(INSERT, (ten, aid))

                await dbs[worker % TENANTS].write(unit)

            return await run_tasks(work, workers, seconds)
        finally:
            pool.close()

    return asyncio.run(main())


# -- psycopg 3, async pool ------------------------------------------------------------------


def psycopg_async(dsn: str, workers: int, seconds: float) -> Result:
    async def main() -> Result:
        async with AsyncConnectionPool(dsn, min_size=workers, max_size=workers) as pool:
            await pool.wait()

            async def work(worker: int, i: int) -> None:
                ten, aid = tenant(worker % TENANTS), asset_id(i % ASSETS_PER_TENANT)
                async with pool.connection() as conn, conn.transaction():
                    await conn.execute(SCOPE, (ten,))
                    cur = await conn.execute(READ, (ten, aid))
                    assert await cur.fetchone() is not None
                    await conn.execute(INSERT, (ten, aid))

            return await run_tasks(work, workers, seconds)

    return asyncio.run(main())


# -- asyncpg ---------------------------------------------------------------------------------------


def asyncpg_pool(dsn: str, workers: int, seconds: float) -> Result:
    scope, read, insert = (
        q.replace("%s", "$1", 1).replace("%s", "$2", 1) for q in (SCOPE, READ, INSERT)
    )

    async def main() -> Result:
        async with asyncpg.create_pool(dsn, min_size=workers, max_size=workers) as pool:

            async def work(worker: int, i: int) -> None:
                ten, aid = tenant(worker % TENANTS), asset_id(i % ASSETS_PER_TENANT)
                async with pool.acquire() as conn, conn.transaction():
                    await conn.execute(scope, ten)
                    assert await conn.fetchrow(read, ten, aid) is not None
                    await conn.execute(insert, ten, aid)

            return await run_tasks(work, workers, seconds)

    return asyncio.run(main())


DRIVERS: list[tuple[str, Callable[[str, int, float], Result]]] = [
    ("psycopg 3 sync pool, threads (the design)", psycopg_sync),
    ("psycopg 3 sync via PgDatabase.write (as built: + thread hop, advisory lock)", pgdatabase),
    ("psycopg 3 async pool", psycopg_async),
    ("asyncpg pool", asyncpg_pool),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved; the median is shown")
    parser.add_argument("--durable", action="store_true", help="fsync on, cluster on disk")
    parser.add_argument("--out", type=Path, help="default bench/results/pg_drivers[_durable].md")
    args = parser.parse_args()
    if args.out is None:
        name = "pg_drivers_durable.md" if args.durable else "pg_drivers.md"
        args.out = ROOT / "bench" / "results" / name

    if args.durable:
        # On the disk, as bench/pg_leg.py's durable cluster. (Setting PG_CLUSTER_DIR here
        # came too late: tests/pg_cluster.py reads it at import, so "--durable" ran on tmpfs.)
        root = Path(tempfile.mkdtemp(prefix="reliatic-pg-drivers-", dir="/var/tmp"))
        cluster = PgCluster(find_bindir(), root=root, durable=True)
    else:
        cluster = PgCluster(find_bindir())
    cluster.start()
    print(f"cluster in {cluster.root} (fsync {'on' if args.durable else 'off'})", file=sys.stderr)
    try:
        database = cluster.clone()
        seed(cluster.dsn(database.name, OWNER_ROLE))
        dsn = database.dsn  # the server's login role, as `[storage] dsn`
        results: dict[tuple[str, int], list[Result]] = {}
        for round_ in range(args.rounds):
            for workers in CONCURRENCY:
                for name, run in DRIVERS:
                    cpu = time.process_time()
                    result = run(dsn, workers, args.seconds)
                    # Pool set-up and tear-down included: small against seconds of work.
                    result.cpu_seconds = time.process_time() - cpu
                    results.setdefault((name, workers), []).append(result)
                    print(
                        f"round {round_ + 1} {name} x{workers}: {result.per_second:,.0f}/s",
                        file=sys.stderr,
                    )
        with psycopg.connect(cluster.dsn(database.name)) as conn:
            version = conn.execute("SHOW server_version").fetchone()
    finally:
        cluster.stop()

    def median(rs: list[Result], key: Callable[[Result], float]) -> float:
        return statistics.median(key(r) for r in rs)

    lines = [
        "# PostgreSQL drivers on the storage seam's unit of work (issue 15)",
        "",
        "`python bench/pg_drivers.py"
        + (" --durable" if args.durable else "")
        + f" --seconds {args.seconds:g} --rounds {args.rounds}`: one transaction ="
        " `set_config('app.tenant_id', …, true)` + read one asset by (tenant_id, id) +"
        " insert one event, as the server's login role (RLS on), each worker on its own tenant.",
        f"PostgreSQL {version[0] if version else '?'} on a Unix socket,"
        f" {'fsync on (disk)' if args.durable else 'fsync off (tmpfs)'}; Python"
        f" {platform.python_version()}, psycopg {psycopg.__version__}, asyncpg"
        f" {asyncpg.__version__}; {os.cpu_count()} cores shared with other work (load"
        f" {os.getloadavg()[0]:.1f} at the end). Median of {args.rounds} interleaved rounds of"
        f" {args.seconds:g} s.",
        "",
        "| driver | workers | µs per transaction (mean) | p99 µs | transactions/s |"
        " client CPU µs per transaction |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for workers in CONCURRENCY:
        for name, _ in DRIVERS:
            rs = results[(name, workers)]
            mean, p99 = median(rs, lambda r: r.mean_us), median(rs, lambda r: r.p99_us)
            per_second, cpu = median(rs, lambda r: r.per_second), median(rs, lambda r: r.cpu_us)
            cells = [f"{x:,.0f}" for x in (mean, p99, per_second, cpu)]
            lines.append(f"| {name} | {workers} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "µs per transaction is what one worker waits for its transaction; transactions/s is over"
        " all workers. Read the 16-worker rows with the load in mind: on a busy machine 16"
        " threads get 16 shares of the CPU from the kernel where one event-loop thread gets one,"
        " which favours the threaded rows beyond the drivers' own cost. Client CPU per"
        " transaction (this process's CPU time over the run, all threads) is the driver's own"
        " cost and depends less on the load (it still rises with it).",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.write_text(text, encoding="utf-8")
    print(json.dumps({"written": str(args.out)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
