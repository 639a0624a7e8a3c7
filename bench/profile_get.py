"""Where a GET's time goes: `reliatic serve` sampled by py-spy while wrk loads GET one asset
(or, with `--workload list`, the bench's filtered list of 25).

    python bench/profile_get.py --data DIR [--seconds 15] [--event-loop uvloop] [--workload list]
    python bench/profile_get.py --raw FILE        # summarise a profile taken before

DIR is a data dir kept by `bench/run.py --keep` (it holds `bench-dataset.json`). Every sample
is charged to the innermost Python frame (time in C, an SQLite step or a socket write, goes
to the Python line that called it), and frames are grouped by what they do: the framework
and the socket on one side, our own request path on the other, split by its parts. The
shares are of the server's busy samples; `--rps` turns them into microseconds per request.
Issue 16 quotes its before and after tables.
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import load
import servers
from dataset import Dataset
from run import workloads

# (group, patterns of a frame's file): the first group whose pattern matches takes the sample.
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ours: authentication (key cache, revocation check)", (
        "reliatic_appliance/api/auth.py", "reliatic_appliance/services/api_keys.py",
        "reliatic_appliance/storage/control.py", "reliatic_appliance/storage/snapshot.py",
        "reliatic_appliance/storage/wal_signal.py",
    )),
    ("ours: rate limit", ("reliatic_appliance/api/ratelimit.py",)),
    ("ours: the row read (SQLite)", (
        "reliatic_appliance/storage/", "reliatic_appliance/services/",
    )),
    ("ours: ETag and envelope (JSON)", (
        "reliatic_appliance/api/etags.py", "reliatic_appliance/api/responses.py",
        "reliatic_appliance/timefmt.py",
    )),
    ("ours: access log", ("reliatic_appliance/api/access_log.py", "reliatic_appliance/logs.py")),
    ("ours: request metrics", ("reliatic_appliance/metrics.py", "prometheus_client/")),
    ("ours: middleware, routing glue, handler", ("reliatic_appliance/",)),
    ("aiohttp: parsing, routing, response", ("aiohttp/", "multidict/", "yarl/")),
    ("event loop and sockets", ("asyncio/", "selectors.py", "uvloop/")),
)  # fmt: skip
OTHER = "other (threads, GC, unattributed)"
_FILE = re.compile(r"\((.*?):\d+\)$")


def summarise(raw: Path) -> dict[str, int]:
    """Samples per group from py-spy's `--format raw` output (collapsed stacks)."""
    counts: collections.Counter[str] = collections.Counter()
    for line in raw.read_text(encoding="utf-8").splitlines():
        stack, _, number = line.rpartition(" ")
        if not stack:
            continue
        leaf = stack.split(";")[-1]
        match = _FILE.search(leaf)
        where = match.group(1) if match else ""
        group = next((g for g, pats in GROUPS if any(p in where for p in pats)), OTHER)
        counts[group] += int(number)
    return dict(counts)


def table(counts: dict[str, int], rps: float | None) -> str:
    total = sum(counts.values()) or 1
    head = "| where | share of samples |" + (" µs per request |" if rps else "")
    rule = "|---|---:|" + ("---:|" if rps else "")
    lines = [head, rule]
    for group in [g for g, _ in GROUPS] + [OTHER]:
        share = counts.get(group, 0) / total
        cell = f" {share * 1e6 / rps:.0f} |" if rps else ""
        lines.append(f"| {group} | {share * 100:.1f} % |{cell}")
    ours = sum(v for k, v in counts.items() if k.startswith("ours")) / total
    mine = f" {ours * 1e6 / rps:.0f} |" if rps else ""
    lines.append(f"| **ours in all** | **{ours * 100:.1f} %** |{mine}")
    return "\n".join(lines)


def _py_spy() -> str:
    """py-spy from PATH, or beside this interpreter (the bench extra's venv)."""
    beside = Path(sys.executable).parent / "py-spy"
    return shutil.which("py-spy") or str(beside)


def profile(
    data_dir: Path, seconds: float, event_loop: str, out: Path, workload: str = "get"
) -> float:
    """Serve `data_dir`, load `workload` (bench/run.py's), sample the server; the req/s."""
    data = Dataset.load(data_dir / "bench-dataset.json")
    tmp = Path(tempfile.mkdtemp(prefix="reliatic-profile-"))
    env = servers.production_env(tmp)
    if event_loop != "asyncio":  # unset otherwise: a build from before the setting runs too
        env["RELIATIC_SERVER_EVENT_LOOP"] = event_loop
    port = servers.free_port()
    specs = workloads(data, data.asset_ids[0])[workload]
    try:
        with servers.running(
            servers.reliatic(data_dir, port),
            log=tmp / "server.log",
            ready_path="/healthz",
            port=port,
            env=env,
        ) as process:
            load.closed_loop(port, specs, data.key, 3, "PW")  # warm-up
            spy = subprocess.Popen(
                [_py_spy(), "record", "--pid", str(process.pid),
                 "--rate", "400", "--duration", str(int(seconds)), "--format", "raw",
                 "--nonblocking", "--output", str(out)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            time.sleep(0.5)
            run = load.closed_loop(port, specs, data.key, seconds - 1, "PR")
            spy.wait(timeout=seconds + 30)
        return run.rps
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="a data dir kept by bench/run.py --keep")
    parser.add_argument("--raw", type=Path, help="summarise this py-spy raw profile instead")
    parser.add_argument("--rps", type=float, help="req/s during --raw's profile")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--event-loop", choices=["asyncio", "uvloop"], default="asyncio")
    parser.add_argument("--out", type=Path, default=Path("get-profile.txt"))
    parser.add_argument("--workload", choices=["get", "list", "search"], default="get")
    args = parser.parse_args()
    rps = args.rps
    if args.raw is None:
        if args.data is None:
            parser.error("--data or --raw")
        rps = profile(args.data, args.seconds, args.event_loop, args.out, args.workload)
        print(f"{args.workload} under load: {rps:,.0f} req/s; raw profile in {args.out}")
        args.raw = args.out
    print(table(summarise(args.raw), rps))
    return 0


if __name__ == "__main__":
    sys.exit(main())
