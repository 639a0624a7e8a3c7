"""The benchmark of issue 7: `make bench` (or `python bench/run.py`).

1. Builds its dataset through the project's own code (`dataset.py`): tenant `bench` with
   100k assets, 300k inspections, 50k failure modes, 20k actions; tenant `bench-two`.
2. Measures, in this one run and on this machine: the framework ceiling (a minimal aiohttp
   handler) and the peer (FastAPI + uvicorn), then `reliatic serve` with the production
   settings (`synchronous=FULL`) on each workload, then the same server with group commit
   off for the naive write rate. Load comes from another process (`wrk`, or `loadgen.py`)
   pinned to the other core, 64 connections, three runs each: medians and spread.
3. Measures the same-work peer (`peer.py`, issue 16): our server, the FastAPI peer and the
   aiohttp hello run side by side over the same data dir, and the load alternates between
   them run by run (ours, peer, hello; the next round peer, ours, hello, ...), so each
   pair of runs saw the same machine: each ratio is the median of the pairs' ratios, with
   their spread (min-max).
4. Adds the open-loop p99 at half the mix's maximum, webhook deliveries/s
   (`webhook_throughput.py`) and the rate limiter's memory at 1M keys.
5. Prints the table and writes it to `bench/results/latest.md`.

Options: `--duration S` per run (default 5), `--runs N` (3), `--pairs N` rounds of the peer
comparison (5), `--only peer` for the peer comparison alone (written to
`bench/results/peer.md`), `--backend postgresql` for the same dataset and workloads on a
PostgreSQL-backed server, and POST through one node against two (`pg_leg.py`; written to
`bench/results/latest-postgresql.md`), `--data DIR` to reuse a data dir built by an earlier
run (kept with `--keep`), `--skip-webhooks`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pickle
import random
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import load  # noqa: E402
import report  # noqa: E402
import servers  # noqa: E402
from dataset import Dataset  # noqa: E402

API = "/api/v1/assets"
Specs = list[dict[str, Any]]


def _get(port: int, path: str, key: str) -> Any:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    request.add_header("Authorization", f"Bearer {key}")
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def drain(port: int, data: Dataset, limit: float = 120.0) -> float:
    """Wait until one GET answers in under 250 ms again (the server idle); the seconds waited."""
    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        asked = time.perf_counter()
        with contextlib.suppress(OSError):
            _get(port, f"{API}/{data.asset_ids[0]}", data.key)
            if time.perf_counter() - asked < 0.25:
                break
        time.sleep(0.5)
    return time.perf_counter() - started


def workloads(data: Dataset, after_id: str) -> dict[str, Specs]:
    """Request lists per workload; each is cycled by the load tool."""
    rng = random.Random(3)
    gets = [{"method": "GET", "path": f"{API}/{i}"} for i in data.asset_ids]
    lists = [
        {"method": "GET", "path": f"{API}?type={t}&status={s}&page={p}&per_page=25"}
        for t in ("vessel", "piping", "tank", "heat_exchanger", "rotating")
        for s in ("active", "inactive")
        for p in (1, 2, 3, 4)
    ]
    rng.shuffle(lists)
    searches = [
        {"method": "GET", "path": f"{API}?" + urllib.parse.urlencode({"search": term})}
        for term in data.search_terms
    ]
    rng.shuffle(searches)
    body = json.dumps(
        {
            "tag_number": "BENCH-{n}",
            "name": "Bench charge pump",
            "asset_type": "rotating",
            "description": "Load test asset: API 610 pump in crude oil service",
            "nominal_thickness_mm": 12.7,
            "required_thickness_mm": 8.1,
        }
    )
    posts = [{"method": "POST", "path": API, "body": body}]
    mix: Specs = []
    for i in range(200):
        slot = i % 10
        if slot < 6:
            mix.append(gets[(i * 7) % len(gets)])
        elif slot < 9:
            mix.append(lists[i % len(lists)])
        else:
            mix.append(posts[0])
    return {
        "get": gets,
        "list": lists,
        "search": searches,
        "post": posts,
        "mix": mix,
        "first_page": [{"method": "GET", "path": f"{API}?page=1"}],
        "deep_page": [{"method": "GET", "path": f"{API}?page={p}"} for p in range(2951, 3051)],
        "deep_after": [{"method": "GET", "path": f"{API}?after={after_id}"}],
        "hello": [{"method": "GET", "path": "/hello"}],
    }


def webhook_figures(skip: bool) -> dict[str, Any]:
    """Run `webhook_throughput.py` (written beside this file) and take its figures."""
    script = BENCH / "webhook_throughput.py"
    if skip or not script.exists():
        return {"error": "skipped" if skip else "bench/webhook_throughput.py not present"}
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300, check=False
    )
    return report.parse_webhook_output(done.returncode, done.stdout, done.stderr)


def limiter_figures() -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(BENCH / "limiter_memory.py")],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description="Reliatic benchmark (issue 7)")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--data", type=Path, help="reuse this data dir (from --keep)")
    parser.add_argument("--keep", action="store_true", help="keep the data dir")
    parser.add_argument("--skip-webhooks", action="store_true")
    parser.add_argument("--pairs", type=int, default=5, help="rounds of the peer comparison")
    parser.add_argument("--only", choices=["peer"], help="only the same-work peer rows")
    parser.add_argument(
        "--backend",
        choices=["sqlite", "postgresql"],
        default="sqlite",
        help="storage of the server under test (postgresql: bench/pg_leg.py)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="default bench/results/latest.md (peer.md; latest-postgresql.md)",
    )
    args = parser.parse_args()
    if args.backend == "postgresql" and args.only:
        parser.error("--only peer is the SQLite leg's")
    if args.out is None:
        name = {"peer": "peer.md", None: "latest.md"}[args.only]
        if args.backend == "postgresql":
            name = "latest-postgresql.md"
        args.out = BENCH / "results" / name
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="reliatic-bench-"))
    try:
        data = Dataset.kept_or_built(args.data, tmp)
        if args.only == "peer":
            figures = measure_peer(data, tmp, args)
            figures["total_seconds"] = time.perf_counter() - started
            text = report.render_peer_only(figures, " ".join(["python", *sys.argv]))
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(text, encoding="utf-8")
            print(text)
            print(f"written to {args.out}")
            return 0
        if args.backend == "postgresql":
            results = measure_postgresql(data, tmp, args)
            results["total_seconds"] = time.perf_counter() - started
            # The figures as measured, beside the data dir: a report can be re-rendered.
            with (Path(data.data_dir).parent / "results-postgresql.pickle").open("wb") as raw:
                pickle.dump(results, raw)
            text = report.render_postgresql(results, data, " ".join(["python", *sys.argv]))
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(text, encoding="utf-8")
            print(text)
            print(f"written to {args.out}")
            return 0
        results = measure_all(data, tmp, args)
        results["peer"] = measure_peer(data, tmp, args)
        results["webhooks"] = webhook_figures(args.skip_webhooks)
        print("rate limiter memory at 1M keys ...", flush=True)
        results["limiter"] = limiter_figures()
        results["total_seconds"] = time.perf_counter() - started
        text = report.render(results, data)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
        print(text)
        print(f"written to {args.out}")
    finally:
        if args.keep and not args.data:
            print(f"data dir kept: {tmp / 'data'}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


# The peer comparison's servers, each run in turn per workload; "uvloop" is ours with
# `[server] event_loop = "uvloop"` (issue 16). The hello answers `/hello` only, and only
# our two serve the mix (it writes).
PEER_SERVERS = {
    "get": ("ours", "uvloop", "peer", "hello"),
    "list": ("ours", "uvloop", "peer"),
    "mix": ("ours", "uvloop"),
}
PEER_LEGS = tuple((w, s) for w, servers_of in PEER_SERVERS.items() for s in servers_of)


def measure_peer(data: Dataset, tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Our server, the same-work peer and the aiohttp hello, all running; the load goes to
    one at a time, alternating run by run (issue 16), so each pair saw the same machine."""
    env = servers.production_env(tmp)
    data_dir = Path(data.data_dir)
    specs = workloads(data, after_id="")
    ports = {name: servers.free_port() for name in ("ours", "uvloop", "peer", "hello")}
    commands = {
        "ours": (servers.reliatic(data_dir, ports["ours"]), "/healthz", env),
        "uvloop": (
            servers.reliatic(data_dir, ports["uvloop"]),
            "/healthz",
            {**env, "RELIATIC_SERVER_EVENT_LOOP": "uvloop"},
        ),
        "peer": (servers.peer(data_dir, ports["peer"]), "/healthz", env),
        "hello": (servers.baseline("aiohttp", ports["hello"]), "/hello", env),
    }
    out: dict[str, Any] = {
        "tool": load.tool(),
        "pairs": args.pairs,
        "duration": args.duration,
        "loadavg_start": os.getloadavg()[0],
    }
    runs: dict[tuple[str, str], list[load.Run]] = {leg: [] for leg in PEER_LEGS}

    started = int(time.time()) % 100_000

    def leg(workload: str, server: str, duration: float, tag: str) -> load.Run:
        hello = server == "hello"
        return load.closed_loop(
            ports[server],
            specs["hello"] if hello else specs[workload],
            "" if hello else data.key,
            duration,
            # The mix's POSTs number their tags with it: unique per leg, run and data dir.
            f"{tag}{server[0]}{started}",
        )

    print(f"same-work peer: {args.pairs} rounds, servers interleaved", flush=True)
    with contextlib.ExitStack() as stack:
        for name, (command, ready, server_env) in commands.items():
            stack.enter_context(
                servers.running(
                    command,
                    log=tmp / f"peer-{name}.log",
                    ready_path=ready,
                    port=ports[name],
                    env=server_env,
                )
            )
        time.sleep(3)  # our scheduler's first tick and housekeeping pass
        for workload, server in PEER_LEGS:
            leg(workload, server, 1.0, "PW")  # warm-up: key caches, statements, page cache
        for i in range(args.pairs):
            for workload, order in PEER_SERVERS.items():
                # Rotate who goes first round by round, so none always follows another.
                shift = i % len(order)
                for server in (*order[shift:], *order[:shift]):
                    runs[workload, server].append(leg(workload, server, args.duration, f"P{i}"))
            got = {k: v[-1] for k, v in runs.items()}
            print(
                f"  round {i + 1}: "
                + "; ".join(
                    f"{w} " + " ".join(f"{s} {got[w, s].rps:,.0f}" for s in order)
                    for w, order in PEER_SERVERS.items()
                )
                + f" req/s; mix p99 ours {got['mix', 'ours'].p99_ms:.1f}"
                f" uvloop {got['mix', 'uvloop'].p99_ms:.1f} ms",
                flush=True,
            )
    out["runs"] = runs
    out["loadavg_end"] = os.getloadavg()[0]
    return out


def measure_all(
    data: Dataset, tmp: Path, args: argparse.Namespace, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Every workload on `reliatic serve`; `env` points it at PostgreSQL (pg_leg.py), where
    the naive one-commit-per-request server has no meaning: it is SQLite's group commit off."""
    postgresql = env is not None
    env = env or servers.production_env(tmp)
    data_dir = Path(data.data_dir)
    # Other work on the machine skews every figure: the table says how busy it was.
    out: dict[str, Any] = {"tool": load.tool(), "loadavg_start": os.getloadavg()[0]}

    def run(
        name: str, port: int, specs: Specs, key: str = "", connections: int = load.CONNECTIONS
    ) -> load.Result:
        print(f"  {name} ...", flush=True)
        result = load.measure(
            port,
            specs,
            key=key,
            duration=args.duration,
            runs=args.runs,
            tag=name[:3].upper(),
            connections=connections,
        )
        out[name] = result
        if postgresql and key:
            # Requests the load tool gave up on (10 s timeout) are still queued for the pool
            # when the run ends; measured into the next workload they would skew it.
            out[f"{name}_drain_s"] = drain(port, data)
        return result

    for kind in ("aiohttp", "fastapi"):
        port = servers.free_port()
        command = servers.baseline(kind, port)
        with servers.running(
            command, log=tmp / f"{kind}.log", ready_path="/hello", port=port, env=env
        ):
            run(kind, port, [{"method": "GET", "path": "/hello"}])

    port = servers.free_port()
    with servers.running(
        servers.reliatic(data_dir, port),
        log=tmp / "reliatic.log",
        ready_path="/healthz",
        port=port,
        env=env,
    ) as process:
        time.sleep(3)  # let the scheduler's first tick and housekeeping pass go by
        deep = _get(port, f"{API}?page=3000", data.key)
        specs = workloads(data, deep["data"][0]["id"])
        out["rss_start_mib"] = servers.rss_mib(process.pid)
        for name in ("get", "list", "search", "first_page", "deep_page", "deep_after"):
            run(name, port, specs[name], data.key)
        run("post", port, specs["post"], data.key)
        mix = run("mix", port, specs["mix"], data.key)
        rate = max(1, round(mix.rps / 2))
        print(f"  open loop at {rate} req/s ...", flush=True)
        # Tags stamped like load.measure's: a data dir kept from an earlier run (--data)
        # already holds that run's posted tags, and a repeated one is a 409, not a write.
        stamp = f"OL{int(time.time() * 1000) % 10_000_000}"
        out["open_loop"] = [
            load.loadgen(port, specs["mix"], data.key, args.duration, f"{stamp}-{i}", rate)
            for i in range(args.runs)
        ]
        out["rss_end_mib"] = servers.rss_mib(process.pid)
    if postgresql:
        out["specs"] = specs
        out["loadavg_end"] = os.getloadavg()[0]
        return out
    port = servers.free_port()
    with servers.running(
        servers.reliatic(data_dir, port, naive=True),
        log=tmp / "naive.log",
        ready_path="/healthz",
        port=port,
        env=env,
    ):
        run("post_naive", port, specs["post"], data.key)
    out["loadavg_end"] = os.getloadavg()[0]
    return out


def measure_postgresql(data: Dataset, tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The same workloads on a PostgreSQL-backed server, then one node against two."""
    import pg_leg  # psycopg and the cluster helpers: only this leg needs them

    with pg_leg.durable_cluster() as cluster:
        database = cluster.clone()
        print("reliatic storage copy into PostgreSQL ...", flush=True)
        copied = pg_leg.copy_into(
            Path(data.data_dir), database.admin_dsn, servers.production_env(tmp)
        )
        print(f"  {copied['rows']:,} rows in {copied['seconds']:.0f} s", flush=True)
        env = pg_leg.pg_env(servers.production_env(tmp), database.dsn, database.admin_dsn)
        out = measure_all(data, tmp, args, env)
        out["copy"] = copied
        out["duration"] = args.duration
        out["postgresql"] = pg_leg.server_version(cluster)
        print("POST through one node, then two nodes on the same database ...", flush=True)
        out["nodes"] = pg_leg.measure_nodes(data, tmp, env, out.pop("specs")["post"], args)
        out["loadavg_end"] = os.getloadavg()[0]
    return out


if __name__ == "__main__":
    sys.exit(main())
