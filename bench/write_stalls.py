"""Write stalls: how long the slowest requests wait under a long, steady load.

    python bench/write_stalls.py [--data DIR] [--workload post get] [--duration 100]
        [--out bench/results/write-stalls.md]
    make bench-stalls DATA_DIR=DIR

Why (issue 16): `make bench` measures in rounds of 5-8 s, and what holds the SQLite writer
for a few hundred milliseconds now and then falls in some rounds and not in others: a round's
p99 read 60 ms or 3.8 s for the same code. A POST waits for every write queued before it, so
one long write (FTS5 merging a whole level of the `search` index inside a request's write,
housekeeping escalating a backlog of overdue actions in one write, a checkpoint) stalls
every client that writes meanwhile. This runs one long load per workload and says when in
it the slow requests came.

How: `reliatic serve` (production defaults, its scheduler running: housekeeping when it
starts and each minute, the index merged each tick) on a fresh copy of the dataset's data
dir for each workload, pinned to the server core; 64 connections of `bench/loadgen.py`'s
closed loop from the other core, every latency kept with the time its answer came, for
`--duration` seconds from the moment the server answers (its first minute is the one a
plant sees after a restart). `get` is the baseline, in the same run: a read never waits for
the writer, so its tail is what the event loop and this machine add.

Prints, per workload: requests/s, p50, p99, p99.9 and max, and the stalls: the seconds of
the run in which some request took more than `STALL_MS`, with the slowest in each. `post`
and `mix` are run.py's workloads (one new asset a request; 60/30/10 GET/list/POST).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import load
import loadgen
import servers
from dataset import Dataset
from report import machine
from run import workloads

STALL_MS = 150.0
CONNECTIONS = 64


@dataclass(frozen=True)
class Stalls:
    workload: str
    rps: float
    p50_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    # (second of the run, slowest request in it, ms), for every second above STALL_MS.
    seconds: list[tuple[int, float]]


def stalls_of(workload: str, tally: loadgen.Tally, start: float, elapsed: float) -> Stalls:
    values = sorted(tally.latencies)
    slowest: dict[int, float] = {}
    for finished, latency in zip(tally.finished, tally.latencies, strict=True):
        second = int(finished - start)
        slowest[second] = max(slowest.get(second, 0.0), latency)
    return Stalls(
        workload=workload,
        rps=len(values) / elapsed,
        p50_ms=loadgen.percentile(values, 0.50) * 1000,
        p99_ms=loadgen.percentile(values, 0.99) * 1000,
        p999_ms=loadgen.percentile(values, 0.999) * 1000,
        max_ms=(values[-1] if values else float("nan")) * 1000,
        seconds=[(s, v * 1000) for s, v in sorted(slowest.items()) if v * 1000 > STALL_MS],
    )


async def _load(
    workload: str, port: int, specs: list[dict[str, Any]], key: str, duration: float
) -> Stalls:
    tally = loadgen.Tally()
    requests = loadgen.Requests(specs, f"127.0.0.1:{port}", key, f"WS{os.getpid()}")
    start = time.perf_counter()  # the clock of `tally.finished`
    summary = await loadgen.closed_loop(
        "127.0.0.1", port, requests, duration, CONNECTIONS, tally=tally
    )
    if summary["non_2xx"] or summary["errors"]:
        raise RuntimeError(f"failed requests: {summary}")
    return stalls_of(workload, tally, start, time.perf_counter() - start)


def measure(data: Dataset, workload: str, duration: float, tmp: Path) -> Stalls:
    """One long run of `workload` on a fresh copy of the data dir."""
    copy = tmp / f"data-{workload}"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(data.data_dir, copy)
    # The copy to disk now, not in the run: the server's first checkpoint fsyncs the tenant
    # file, and with hundreds of MB of it still dirty that fsync took 355 ms instead of 14.
    os.sync()
    specs = workloads(data, data.asset_ids[0])[workload]
    port = servers.free_port()
    env = servers.production_env(tmp)
    try:
        with servers.running(
            servers.reliatic(copy, port),
            log=tmp / f"server-{workload}.log",
            ready_path="/healthz",
            port=port,
            env=env,
        ):
            if (os.cpu_count() or 1) >= 2:
                os.sched_setaffinity(0, {load.LOAD_CORE})
            return asyncio.run(_load(workload, port, specs, data.key, duration))
    finally:
        shutil.rmtree(copy, ignore_errors=True)


def render(results: list[Stalls], header: str) -> str:
    lines = [
        "# Write stalls under a long load (bench/write_stalls.py)",
        "",
        header,
        "",
        f"| workload | req/s | p50 ms | p99 ms | p99.9 ms | max ms | seconds > {STALL_MS:.0f} ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.workload} | {r.rps:,.0f} | {r.p50_ms:.1f} | {r.p99_ms:.1f} | {r.p999_ms:.1f}"
            f" | {r.max_ms:.0f} | {len(r.seconds)} |"
        )
    lines += ["", "The stalls (second of the run: its slowest request):", ""]
    for r in results:
        listed = ", ".join(f"{s} s: {ms:.0f} ms" for s, ms in r.seconds) or "none"
        lines.append(f"- {r.workload}: {listed}")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="a bench/run.py --keep dir (else built)")
    parser.add_argument("--workload", nargs="+", default=["post", "get"])
    parser.add_argument("--duration", type=float, default=100.0, help="seconds per workload")
    parser.add_argument("--out", type=Path, default=servers.BENCH / "results" / "write-stalls.md")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="reliatic-stalls-"))
    try:
        data = Dataset.kept_or_built(args.data, tmp)
        known = workloads(data, data.asset_ids[0])
        unknown = [name for name in args.workload if name not in known]
        if unknown:
            parser.error(f"unknown workload(s) {unknown}; known: {sorted(known)}")
        results = []
        for workload in args.workload:
            print(f"{workload}: {args.duration:.0f} s ...", flush=True)
            results.append(measure(data, workload, args.duration, tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    header = (
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC · {machine()} · load: bench/loadgen.py"
        f" closed loop, {CONNECTIONS} connections, pinned to the other core; one run of"
        f" {args.duration:.0f} s per workload on a fresh copy of the data dir, from the"
        f" server's start. Command: `{' '.join(sys.argv)}`."
    )
    text = render(results, header)
    print("\n" + text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
