"""The benchmark's PostgreSQL leg (issue 15, "Speed"): `python bench/run.py --backend postgresql`.

A throwaway PostgreSQL 15 cluster (tests/pg_cluster.py's `PgCluster`) started for the run with
the production durability settings: fsync on, synchronous_commit on, full_page_writes on, on
the disk (/var/tmp, not tmpfs). The dataset is the SQLite leg's, built by `dataset.build`,
then moved with `reliatic storage copy` (the same rows, verified table by table by the copy
itself): a minute of building plus the copy, against hours for 100k assets one request each.
`reliatic serve` then runs with `[storage] backend = "postgresql"` (the RELIATIC_STORAGE_*
variables) on the same workloads as the SQLite leg, and a second section loads POST through one
node, then through two nodes on the same database at once (the connections split between them).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import load
import servers
from dataset import Dataset

Specs = list[dict[str, Any]]

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.pg_cluster import PgCluster, find_bindir  # noqa: E402


@contextlib.contextmanager
def durable_cluster() -> Iterator[PgCluster]:
    """A cluster on the disk with fsync and synchronous commit on, removed at the end."""
    # On the disk, not tests/pg_cluster.py's tmpfs default: fsync must reach a device.
    root = Path(tempfile.mkdtemp(prefix="reliatic-pg-bench-", dir="/var/tmp"))
    cluster = PgCluster(find_bindir(), root=root, durable=True)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


def server_version(cluster: PgCluster) -> dict[str, str]:
    names = ("server_version", "fsync", "synchronous_commit", "full_page_writes", "shared_buffers")
    row = cluster.execute("SELECT " + ", ".join(f"current_setting('{n}')" for n in names))[0]
    return dict(zip(names, row, strict=True))


def copy_into(data_dir: Path, admin_dsn: str, env: dict[str, str]) -> dict[str, Any]:
    """`reliatic storage copy` of the SQLite data dir into the (migrated, empty) database."""
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "reliatic_appliance",
            "--data-dir",
            str(data_dir),
            "storage",
            "copy",
            "--to",
            admin_dsn,
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"storage copy failed: {done.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return {
        "rows": result["rows"],
        "ok": result["ok"],
        "seconds": time.perf_counter() - started,
    }


def pg_env(env: dict[str, str], dsn: str, admin_dsn: str) -> dict[str, str]:
    return {
        **env,
        "RELIATIC_STORAGE_BACKEND": "postgresql",
        "RELIATIC_STORAGE_DSN": dsn,
        "RELIATIC_STORAGE_ADMIN_DSN": admin_dsn,
    }


def _concurrent(legs: list[tuple[int, int]], specs: Specs, key: str, d: float) -> list[Any]:
    """One load process per (port, connections), all at once; their Runs in that order."""
    out: list[Any] = [None] * len(legs)

    def one(i: int, port: int, connections: int) -> None:
        try:
            out[i] = load.closed_loop(
                port, specs, key, d, f"N{i}{time.time_ns() % 10**7}", connections
            )
        except Exception as exc:  # re-raised below, in the caller's thread
            out[i] = exc

    threads = [threading.Thread(target=one, args=(i, port, c)) for i, (port, c) in enumerate(legs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for item in out:
        if isinstance(item, Exception):
            raise item
    return out


def measure_nodes(
    data: Dataset, tmp: Path, env: dict[str, str], post: Specs, args: argparse.Namespace
) -> dict[str, Any]:
    """POST an asset through one node, then through two nodes on the same database at once.

    The same 64 connections both times: all on one node, then 32 on each (two load processes
    running together). Each round measures one node, then two, so both saw the same machine.
    """
    ports = [servers.free_port(), servers.free_port()]
    one: list[load.Run] = []
    two: list[tuple[load.Run, load.Run]] = []
    half = load.CONNECTIONS // 2
    with contextlib.ExitStack() as stack:
        for i, port in enumerate(ports):
            stack.enter_context(
                servers.running(
                    servers.reliatic(Path(data.data_dir), port),
                    log=tmp / f"node{i + 1}.log",
                    ready_path="/healthz",
                    port=port,
                    env=env,
                )
            )
        time.sleep(3)  # both schedulers' first tick
        load.closed_loop(ports[0], post, data.key, 1.0, f"NW{time.time_ns() % 10**7}")
        _concurrent([(p, half) for p in ports], post, data.key, 1.0)
        for i in range(args.runs):
            one.append(load.closed_loop(ports[0], post, data.key, args.duration, f"N1{i}"))
            a, b = _concurrent([(p, half) for p in ports], post, data.key, args.duration)
            two.append((a, b))
            print(
                f"  round {i + 1}: one node {one[-1].rps:,.0f}, two nodes"
                f" {a.rps:,.0f} + {b.rps:,.0f} = {a.rps + b.rps:,.0f} writes/s",
                flush=True,
            )
    return {"one": one, "two": two}
