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
        # Per table: rows, and the checksums of both sides (the report prints them).
        "tables": result["tables"],
    }


def pg_env(env: dict[str, str], dsn: str, admin_dsn: str) -> dict[str, str]:
    return {
        **env,
        "RELIATIC_STORAGE_BACKEND": "postgresql",
        "RELIATIC_STORAGE_DSN": dsn,
        "RELIATIC_STORAGE_ADMIN_DSN": admin_dsn,
    }


Leg = tuple[int, int, str]  # port, connections, key


def _concurrent(legs: list[Leg], specs: Specs, d: float) -> list[load.Run]:
    """One load process per (port, connections, key), all at once; their Runs in that order."""
    out: list[Any] = [None] * len(legs)

    def one(i: int, port: int, connections: int, key: str) -> None:
        try:
            out[i] = load.closed_loop(
                port, specs, key, d, f"N{i}{time.time_ns() % 10**7}", connections
            )
        except Exception as exc:  # re-raised below, in the caller's thread
            out[i] = exc

    threads = [threading.Thread(target=one, args=(i, *leg)) for i, leg in enumerate(legs)]
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

    The same 64 connections every time: all on one node, then 32 on each (two load processes
    running together). Two cases: every write to tenant `bench` (one advisory lock: the
    writes serialise across the nodes), and half to `bench`, half to `bench-two` (node 1
    serving one tenant, node 2 the other). Each round measures one node, then two, so both
    saw the same machine. Returns, per case and per node count, each round's Runs.
    """
    ports = [servers.free_port(), servers.free_port()]
    half = load.CONNECTIONS // 2
    k1, k2 = data.key, data.second_key
    cases: dict[str, dict[str, list[Leg]]] = {
        "one tenant": {
            "one": [(ports[0], load.CONNECTIONS, k1)],
            "two": [(ports[0], half, k1), (ports[1], half, k1)],
        },
        "two tenants": {
            "one": [(ports[0], half, k1), (ports[0], half, k2)],
            "two": [(ports[0], half, k1), (ports[1], half, k2)],
        },
    }
    out: dict[str, dict[str, list[list[load.Run]]]] = {
        case: {"one": [], "two": []} for case in cases
    }
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
        for legs in cases["two tenants"].values():
            _concurrent(legs, post, 1.0)  # warm-up: both keys, both nodes
        for i in range(args.runs):
            for case, counts in cases.items():
                for count, legs in counts.items():
                    out[case][count].append(_concurrent(legs, post, args.duration))
                sums = {c: sum(r.rps for r in out[case][c][-1]) for c in counts}
                print(
                    f"  round {i + 1}, {case}: one node {sums['one']:,.0f},"
                    f" two nodes {sums['two']:,.0f} writes/s",
                    flush=True,
                )
    return out
