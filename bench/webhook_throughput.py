"""Webhook deliveries per second to a local receiver, and how many were lost (issue 5).

Starts the real `reliatic serve` with the production settings except `allow_http` and
`allow_loopback_targets` (the receiver is plain http on 127.0.0.1) and a scheduler tick of
0.05 s; runs a receiver in this process (aiohttp, answers 204); one subscription to
`asset.created`. Two rounds of N events each, written as POSTs on C concurrent connections:

1. live: the receiver answers at once while the events are being written. Deliveries/s from
   the first receipt to the last, and how far the last receipt trails the last 201.
2. backlog: the receiver hangs (a CMMS being restarted) while the events are written, then
   recovers: how fast the scheduler drains the backlog, first to last receipt after recovery.

For each round: lost = acknowledged (201) events never received; duplicates = receipts of a
delivery id already received (allowed, at least once: e.g. a retry after a timeout); split =
events received under two delivery ids (never allowed). Waits up to a minute and a half for
stragglers (a delivery that timed out is retried after the production 60 s).

Prints a table, then one JSON line for `bench/run.py`; its `deliveries_per_s` is the backlog
drain (all events exist before the first delivery: the scheduler's own rate), since the live
round can go no faster than the API creates events on the same core. `--profile FILE`
records the server with py-spy (collapsed stacks of the GIL holder) during the drain.
Run: `python bench/webhook_throughput.py [--events N] [--connections C]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "reliatic_appliance"]
SERVER_CORE, BENCH_CORE = 0, 1
LOCAL_TARGETS = {
    "RELIATIC_WEBHOOKS_ALLOW_HTTP": "true",
    "RELIATIC_WEBHOOKS_ALLOW_LOOPBACK_TARGETS": "true",
}
STALL_SECONDS = 90.0  # no new receipt for this long: what is missing is lost


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def environment(tmp: Path) -> dict[str, str]:
    """Production defaults (no RELIATIC_* from the caller, an empty config) plus ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELIATIC_")}
    config = tmp / "reliatic.toml"
    config.write_text("# production defaults\n")
    env |= {"RELIATIC_CONFIG": str(config), "PYTHONPATH": str(ROOT), **LOCAL_TARGETS}
    env["RELIATIC_SCHEDULER_TICK_SECONDS"] = "0.05"
    return env


def reliatic(data_dir: Path, env: dict[str, str], *args: str) -> Any:
    done = subprocess.run(
        [*CLI, "--data-dir", str(data_dir), *args, "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"reliatic {' '.join(args)}: {done.stderr.strip()}")
    return json.loads(done.stdout)


def pinned(command: list[str], core: int) -> list[str]:
    if (os.cpu_count() or 1) >= 2 and shutil.which("taskset"):
        return ["taskset", "-c", str(core), *command]
    return command


@dataclass
class Receiver:
    """Records every delivery it answers (204); while `gate` is clear it hangs."""

    gate: asyncio.Event = field(default_factory=asyncio.Event)
    # (monotonic time, event id, delivery id, asset id) per 2xx answer
    got: list[tuple[float, str, str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.gate.set()

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        await self.gate.wait()
        payload = json.loads(body)
        self.got.append(
            (time.perf_counter(), payload["id"], payload["delivery_id"], payload["resource"]["id"])
        )
        return web.Response(status=204)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        return app


@dataclass
class Round:
    name: str
    events: int
    acked: list[tuple[float, str]]  # (time of the 201, asset id)
    receipts: list[tuple[float, str, str, str]]
    from_time: float

    def figures(self) -> dict[str, Any]:
        mine = {asset for _, asset in self.acked}
        receipts = self.receipts
        # From `from_time` on: the whole round (live), or from the recovery (backlog).
        times = sorted(r[0] for r in receipts if r[0] >= self.from_time)
        per_delivery: dict[str, int] = defaultdict(int)
        ids_per_event: dict[str, set[str]] = defaultdict(set)
        for _, event_id, delivery_id, _ in receipts:
            per_delivery[delivery_id] += 1
            ids_per_event[event_id].add(delivery_id)
        received_assets = {r[3] for r in receipts}
        span = times[-1] - times[0] if len(times) > 1 else 0.0
        ack_times = [t for t, _ in self.acked]
        ack_span = max(ack_times) - min(ack_times) if len(ack_times) > 1 else float("nan")
        return {
            "round": self.name,
            "events": self.events,
            "acknowledged": len(self.acked),
            "writes_per_s": round(len(self.acked) / ack_span, 1),
            "deliveries_per_s": round(len(times) / span, 1) if span > 0 else 0.0,
            "last_receipt_after_last_201_s": round(times[-1] - max(ack_times), 3)
            if times and ack_times
            else None,
            "lost": len(mine - received_assets),
            "duplicates": sum(n - 1 for n in per_delivery.values()),
            "split": sum(1 for ids in ids_per_event.values() if len(ids) > 1),
        }


async def write_events(
    base: str, key: str, prefix: str, count: int, connections: int
) -> list[tuple[float, str]]:
    """POST `count` assets over `connections` connections; (time of 201, id) of each."""
    acked: list[tuple[float, str]] = []
    numbers = iter(range(count))
    headers = {"Authorization": f"Bearer {key}"}
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            for n in numbers:
                body = {"tag_number": f"{prefix}-{n:06d}", "name": "bench", "asset_type": "tank"}
                async with session.post(f"{base}/api/v1/assets", json=body, headers=headers) as r:
                    if r.status != 201:
                        raise RuntimeError(f"POST answered {r.status}: {await r.text()}")
                    acked.append((time.perf_counter(), (await r.json())["data"]["id"]))

        await asyncio.gather(*(worker() for _ in range(connections)))
    return acked


async def wait_for_all(receiver: Receiver, assets: set[str]) -> None:
    """Until every asset's event arrived, or nothing new arrived for STALL_SECONDS."""
    seen = 0
    last_progress = time.perf_counter()
    while True:
        if assets <= {r[3] for r in receiver.got}:
            return
        if len(receiver.got) != seen:
            seen, last_progress = len(receiver.got), time.perf_counter()
        elif time.perf_counter() - last_progress > STALL_SECONDS:
            return
        await asyncio.sleep(0.1)


def spawn_server(
    data_dir: Path, port: int, env: dict[str, str], log: Path
) -> subprocess.Popen[bytes]:
    """`reliatic serve`, on the server core when there is a second one for the load."""
    command = [*CLI, "--data-dir", str(data_dir), "serve", "--port", str(port)]
    with log.open("wb") as out:
        return subprocess.Popen(
            pinned(command, SERVER_CORE), stdout=out, stderr=subprocess.STDOUT, env=env
        )


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process, all threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_profiler(out: Path | None, pid: int, rate: int) -> subprocess.Popen[bytes] | None:
    """`py-spy record` of the server (collapsed stacks), when asked for with --profile."""
    if out is None:
        return None
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    command = [spy, "record", "--gil", "--pid", str(pid), "--rate", str(rate)]
    command += ["--format", "raw", "--output", str(out)]
    profiler = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)  # let it attach
    return profiler


def stop_profiler(profiler: subprocess.Popen[bytes] | None) -> None:
    if profiler is not None:
        profiler.send_signal(signal.SIGINT)
        profiler.wait(timeout=60)


async def bench(
    events: int, connections: int, profile: Path | None, profile_rate: int
) -> list[dict[str, Any]]:
    tmp = Path(tempfile.mkdtemp(prefix="reliatic-webhook-bench-"))
    data_dir = tmp / "data"
    env = environment(tmp)
    receiver = Receiver()
    runner = web.AppRunner(receiver.app(), access_log=None)
    await runner.setup()
    hook_port = free_port()
    await web.TCPSite(runner, "127.0.0.1", hook_port).start()
    server: subprocess.Popen[bytes] | None = None
    try:
        reliatic(data_dir, env, "init")
        reliatic(data_dir, env, "tenant", "create", "bench-webhooks")
        # A per-key limit above the load: the server's own settings stay the defaults.
        key = reliatic(
            data_dir,
            env,
            *("key", "create", "--tenant", "bench-webhooks", "--name", "bench"),
            *("--level", "read_write", "--rate-limit", "1000000"),
        )["key"]
        reliatic(
            data_dir,
            env,
            *("webhook", "add", "--tenant", "bench-webhooks", "--event", "asset.created"),
            *("--url", f"http://127.0.0.1:{hook_port}/hook"),
        )
        port = free_port()
        server = spawn_server(data_dir, port, env, tmp / "server.log")
        base = f"http://127.0.0.1:{port}"
        await wait_ready(base, server)
        results = []

        start = time.perf_counter()
        acked = await write_events(base, key, "LIVE", events, connections)
        await wait_for_all(receiver, {a for _, a in acked})
        results.append(Round("live", events, acked, list(receiver.got), start).figures())

        receiver.got.clear()
        receiver.gate.clear()  # the receiver hangs ...
        acked = await write_events(base, key, "BACKLOG", events, connections)
        recovered = time.perf_counter()
        profiler = start_profiler(profile, server.pid, profile_rate)
        cpu = cpu_seconds(server.pid)
        receiver.gate.set()  # ... and recovers
        await wait_for_all(receiver, {a for _, a in acked})
        cpu = cpu_seconds(server.pid) - cpu
        stop_profiler(profiler)
        drained = Round("backlog", events, acked, list(receiver.got), recovered).figures()
        # CPU the server spent per delivery while draining: less at the mercy of other
        # load on the machine than deliveries/s.
        drained["server_cpu_ms_per_delivery"] = round(cpu * 1000 / max(1, len(receiver.got)), 3)
        results.append(drained)
        return results
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
        await runner.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


async def wait_ready(base: str, server: subprocess.Popen[bytes]) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(600):
            if server.poll() is not None:
                raise RuntimeError("the server exited at start")
            try:
                async with session.get(f"{base}/readyz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the server did not become ready")


def table(results: list[dict[str, Any]]) -> str:
    columns = [
        ("round", "round"),
        ("events", "events"),
        ("writes_per_s", "201s/s"),
        ("deliveries_per_s", "deliveries/s"),
        ("last_receipt_after_last_201_s", "last receipt after last 201 (s)"),
        ("lost", "lost"),
        ("duplicates", "duplicates"),
        ("split", "two ids for one event"),
        ("server_cpu_ms_per_delivery", "server CPU ms/delivery"),
    ]
    rows = [[h for _, h in columns]] + [[str(r.get(k, "-")) for k, _ in columns] for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
    return "\n".join(
        "  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in rows
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=3000, help="events per round")
    parser.add_argument("--connections", type=int, default=32, help="concurrent POSTs")
    parser.add_argument(
        "--profile", type=Path, metavar="FILE", help="py-spy the server while it drains the backlog"
    )
    # The drain lasts seconds: py-spy's default 100 samples/s leaves too few to read.
    parser.add_argument("--profile-rate", type=int, default=1000, help="py-spy samples per second")
    args = parser.parse_args()
    if (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(0, {BENCH_CORE})  # the load and the receiver off the server's core
    results = asyncio.run(bench(args.events, args.connections, args.profile, args.profile_rate))
    print(table(results))
    live, backlog = results
    print(
        json.dumps(
            {
                # The headline is the drain: every event exists before the first delivery,
                # so it measures the scheduler, not how fast the API creates events (live).
                "deliveries_per_s": backlog["deliveries_per_s"],
                "live_deliveries_per_s": live["deliveries_per_s"],
                "live_writes_per_s": live["writes_per_s"],
                "server_cpu_ms_per_delivery": backlog["server_cpu_ms_per_delivery"],
                "events": args.events * 2,
                "lost": live["lost"] + backlog["lost"],
                "duplicates": live["duplicates"] + backlog["duplicates"],
                "split": live["split"] + backlog["split"],
            }
        )
    )
    return 1 if live["lost"] or backlog["lost"] or live["split"] or backlog["split"] else 0


if __name__ == "__main__":
    sys.exit(main())
