"""The server's CPU time and minor page faults per request, per thread, under closed-loop load.

    python bench/cpu_per_request.py [--data DIR] [--workload get list post mix mix-reads
        mix-gets mix-lists] [--rounds 3] [--duration 8] [--no-hello] [--out bench/results/cpu.md]

Why: the mix's p99 is above 50 ms at 64 connections while each of its parts alone is fast.
Latency under a closed loop is CPU per request times the queue, so this asks where the mix's
CPU goes: in which thread (the event loop's, or the others: the SQLite writer thread), user
or kernel, and whether the mix costs more per request than its parts do alone. For the mix
(and "mix-reads", the mix's requests without its POSTs) it prints the sum of its parts: each
part's share of the mix's requests (counted from the mix's own request list) times that
part's measured CPU per request alone; the excess of the mix over that sum is work that
exists only because the parts run together (a writer thread waking per commit group, page
faults, a busier heap). It also prints the other threads' CPU per POST in the mix, against
the POST-only load's. The parts are run.py's `get` (5,000 assets) and `list` (40 lists)
unless `mix-gets` and `mix-lists` are measured too (add them to `--workload`): the mix's own
120 GETs and 12 lists, alone; those then stand for the parts, so a difference between the
mix's requests and the parts' lists cannot pass for an excess.

How: `reliatic serve` on the dataset's data dir (production defaults, pinned to the server
core), warmed up 2 s with the mix; then per workload `--rounds` closed-loop runs of
`--duration` s from the other core (`load.closed_loop`, 64 connections), with the server's
counters read from /proc before and after each run: the event-loop thread (the main thread,
tid == pid) from /proc/PID/task/PID/stat, the other threads as the process total
(/proc/PID/stat, which keeps the time of threads that have exited) minus the loop thread.
Each figure is the delta over the requests of the run, counted as req/s x duration (wrk's
own rate, not a count of the server's), and the table shows the median of the rounds. The
aiohttp hello (`bench/baselines.py`) runs once, alone, for the same duration: the yardstick
(GET one asset's CPU / the hello's = what a GET costs in hellos).

Caveats, to be stated wherever the figures are quoted:
- the kernel keeps user and system time in clock ticks (`SC_CLK_TCK`, 10 ms here) and, with
  tick-based accounting, charges each tick whole to the thread and mode it interrupts: the
  figures are samples, good to a few per cent only over hundreds of ticks. Keep runs at the
  default 8 s (a 2 s run of a thread using 20 % of a core is 40 ticks: +-15 %);
- the window before/after a run also holds wrk's connection set-up and teardown and the
  server's own timers (scheduler ticks), charged to the run's requests: small at 8 s;
- loopback TCP does part of the receiving side's work in the sender's context (softirq), so
  some of the server's network cost is charged to wrk and some of wrk's to the server;
- the other threads' CPU per POST assumes all their work is the POSTs' (in mix-reads it is
  what the reads cost off the loop, normally ~0); the other threads' figures are differences
  of two counters read a moment apart, so a figure near 0 can come out as -1 us.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import load
import servers
from dataset import Dataset
from report import machine
from run import workloads

WARM_UP = 2.0
TICK = os.sysconf("SC_CLK_TCK")
PARTS = ("get", "list", "post")
# Which measured workload stands for each part of a mix: the mix's own GETs (120 of the 5,000)
# and lists (12 of the 40) where those were measured, else run.py's `get` and `list`.
PART_SOURCES = {"get": ("mix-gets", "get"), "list": ("mix-lists", "list"), "post": ("post",)}
Specs = list[dict[str, Any]]


@dataclass(frozen=True)
class Counters:
    """One thread's (or process's) CPU seconds and minor page faults so far."""

    user: float
    system: float
    minflt: int

    def __sub__(self, other: Counters) -> Counters:
        return Counters(
            self.user - other.user, self.system - other.system, self.minflt - other.minflt
        )


def parse_stat(raw: str) -> tuple[str, Counters]:
    """The name and counters of a /proc/.../stat line. The name (in parentheses) may itself
    hold spaces and parentheses, so the fields are those after the last ')': index 7 minflt,
    11 utime, 12 stime, the times in clock ticks."""
    name = raw[raw.index("(") + 1 : raw.rindex(")")]
    fields = raw[raw.rindex(")") + 1 :].split()
    return name, Counters(int(fields[11]) / TICK, int(fields[12]) / TICK, int(fields[7]))


@dataclass(frozen=True)
class Sample:
    """A process's counters: the whole process, the loop thread, and each live thread."""

    process: Counters
    loop: Counters
    threads: dict[int, tuple[str, Counters]]


def sample(pid: int) -> Sample:
    """Read the counters of `pid`'s threads, then of the whole process, from /proc."""
    threads = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            threads[int(task.name)] = parse_stat((task / "stat").read_text())
        except OSError:
            continue  # the thread ended between the listing and the read
    _, process = parse_stat(Path(f"/proc/{pid}/stat").read_text())
    return Sample(process, threads[pid][1], threads)


@dataclass(frozen=True)
class Figures:
    """One run of one workload, per request: CPU in microseconds, page faults."""

    rps: float
    p99_ms: float
    failed: int
    loop_user: float
    loop_sys: float
    other_user: float
    other_sys: float
    loop_minflt: float
    other_minflt: float

    @property
    def loop(self) -> float:
        return self.loop_user + self.loop_sys

    @property
    def other(self) -> float:
        return self.other_user + self.other_sys

    @property
    def total(self) -> float:
        return self.loop + self.other


def figures(before: Sample, after: Sample, run: load.Run, duration: float) -> Figures:
    """Per-request figures of a run: the deltas over req/s x duration requests."""
    requests = max(run.rps * duration, 1.0)
    loop = after.loop - before.loop
    other = (after.process - before.process) - loop
    us = 1e6 / requests
    return Figures(
        rps=run.rps,
        p99_ms=run.p99_ms,
        failed=run.non_2xx + run.errors,
        loop_user=loop.user * us,
        loop_sys=loop.system * us,
        other_user=other.user * us,
        other_sys=other.system * us,
        loop_minflt=loop.minflt / requests,
        other_minflt=other.minflt / requests,
    )


def median(runs: list[Figures]) -> Figures:
    """Each figure's median over the rounds (failures summed)."""

    def med(get: Callable[[Figures], float]) -> float:
        return statistics.median(get(r) for r in runs)

    return Figures(
        rps=med(lambda r: r.rps),
        p99_ms=med(lambda r: r.p99_ms),
        failed=sum(r.failed for r in runs),
        loop_user=med(lambda r: r.loop_user),
        loop_sys=med(lambda r: r.loop_sys),
        other_user=med(lambda r: r.other_user),
        other_sys=med(lambda r: r.other_sys),
        loop_minflt=med(lambda r: r.loop_minflt),
        other_minflt=med(lambda r: r.other_minflt),
    )


def part_of(spec: dict[str, Any]) -> str:
    """Which measured workload a request of a mix is: a POST, a list (a query), or a GET."""
    if spec["method"] == "POST":
        return "post"
    return "list" if "?" in spec["path"] else "get"


def weights(specs: Specs) -> dict[str, float]:
    """Each part's share of a request list."""
    counts = {part: 0 for part in PARTS}
    for spec in specs:
        counts[part_of(spec)] += 1
    return {part: n / len(specs) for part, n in counts.items() if n}


def sum_of_parts(shares: dict[str, float], per_request: dict[str, float]) -> float | None:
    """The weighted sum of the parts' per-request figures; None if a part was not measured."""
    if any(part not in per_request for part in shares):
        return None
    return sum(share * per_request[part] for part, share in shares.items())


def derived(all_specs: dict[str, Specs]) -> dict[str, Specs]:
    """The workloads made here from the mix: without its POSTs, and its GETs or lists alone."""
    mix = all_specs["mix"]
    return {
        "mix-reads": [s for s in mix if part_of(s) != "post"],
        "mix-gets": [s for s in mix if part_of(s) == "get"],
        "mix-lists": [s for s in mix if part_of(s) == "list"],
    }


def part_sources(measured: Iterable[str]) -> dict[str, str]:
    """For each part, the measured workload that stands for it (see PART_SOURCES)."""
    names = set(measured)
    chosen = {}
    for part, candidates in PART_SOURCES.items():
        found = next((name for name in candidates if name in names), None)
        if found is not None:
            chosen[part] = found
    return chosen


def _tag() -> str:
    """A tag unique to each load run (runs are seconds apart): the POSTs' tag numbers are
    made from it, and a tag used twice would make every POST a 409."""
    return f"C{time.time_ns() // 1000 % 10**11}"


def _threads_line(before: Sample, after: Sample, pid: int) -> str:
    """The threads that used CPU in a run, busiest first (the loop thread marked)."""
    used = []
    for tid, (name, now) in after.threads.items():
        then = before.threads.get(tid, (name, Counters(0, 0, 0)))[1]
        delta = now - then
        if delta.user + delta.system >= 0.01:
            label = f"{name}:{tid}" + (" (loop)" if tid == pid else "")
            cpu = delta.user + delta.system
            used.append((cpu, f"{label} {delta.user:.2f}+{delta.system:.2f} s"))
    return ", ".join(text for _, text in sorted(used, reverse=True))


def measure(
    pid: int, port: int, specs: Specs, key: str, duration: float, rounds: int, label: str
) -> Figures:
    """`rounds` runs of `specs`, each between two samples of the server's counters."""
    runs = []
    for i in range(rounds):
        before = sample(pid)
        run = load.closed_loop(port, specs, key, duration, _tag())
        after = sample(pid)
        result = figures(before, after, run, duration)
        runs.append(result)
        print(
            f"{label:10} round {i + 1}: {result.rps:7,.0f} req/s, p99 {result.p99_ms:6.1f} ms,"
            f" CPU {result.total:5.0f} us/req (loop {result.loop:.0f}, other"
            f" {result.other:.0f}), loop minflt {result.loop_minflt:.2f}/req;"
            f" {_threads_line(before, after, pid)}",
            flush=True,
        )
    return median(runs)


def _hello(duration: float, tmp: Path) -> Figures:
    """The aiohttp hello, alone, one run: the yardstick."""
    port = servers.free_port()
    with servers.running(
        servers.baseline("aiohttp", port),
        log=tmp / "hello.log",
        ready_path="/hello",
        port=port,
        env=servers.production_env(tmp),
    ) as process:
        specs = [{"method": "GET", "path": "/hello"}]
        load.closed_loop(port, specs, "", WARM_UP, _tag())
        return measure(process.pid, port, specs, "", duration, 1, "hello")


def _ours(
    data: Dataset,
    names: list[str],
    all_specs: dict[str, Specs],
    duration: float,
    rounds: int,
    tmp: Path,
) -> dict[str, Figures]:
    """Our server, started once, through each workload in turn."""
    port = servers.free_port()
    results = {}
    with servers.running(
        servers.reliatic(Path(data.data_dir), port),
        log=tmp / "reliatic.log",
        ready_path="/healthz",
        port=port,
        env=servers.production_env(tmp),
    ) as process:
        load.closed_loop(port, all_specs["mix"], data.key, WARM_UP, _tag())
        for name in names:
            results[name] = measure(
                process.pid, port, all_specs[name], data.key, duration, rounds, name
            )
    return results


def render(
    results: dict[str, Figures],
    all_specs: dict[str, Specs],
    hello: Figures | None,
    header: str,
) -> str:
    """The markdown: per-workload figures, then each mix against the sum of its parts."""
    lines = [
        "# Server CPU per request (bench/cpu_per_request.py)",
        "",
        header,
        "",
        "CPU in microseconds per request (user + sys), requests counted as req/s x duration;"
        " loop = the event-loop (main) thread, other = every other thread (the SQLite writer);"
        " minflt = minor page faults per request. Clock ticks are 10 ms: the user/sys split"
        " of a thread is a sample, good to a few per cent over an 8 s run.",
        "",
        "| workload | req/s | p99 ms | CPU us/req | loop user | loop sys | other user"
        " | other sys | loop minflt/req | other minflt/req | failed |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    rows = dict(results)
    if hello is not None:
        rows["aiohttp hello"] = hello
    for name, f in rows.items():
        lines.append(
            f"| {name} | {f.rps:,.0f} | {f.p99_ms:.1f} | {round(f.total)} | {round(f.loop_user)}"
            f" | {round(f.loop_sys)} | {round(f.other_user)} | {round(f.other_sys)}"
            f" | {f.loop_minflt:.2f} | {f.other_minflt:.2f} | {f.failed} |"
        )
    if hello is not None and "get" in results and hello.total > 0:
        lines += [
            "",
            f"GET one asset costs {results['get'].total / hello.total:.2f} aiohttp hellos"
            f" of CPU ({results['get'].total:.0f} us against {hello.total:.0f} us).",
        ]
    sources = part_sources(results)
    total = {part: results[name].total for part, name in sources.items()}
    loop = {part: results[name].loop for part, name in sources.items()}
    mixes = [name for name in results if len(weights(all_specs[name])) > 1]
    if mixes:
        lines += [
            "",
            "Each mix against the sum of its parts (share of the mix's requests x the part's"
            " CPU per request alone; parts measured as "
            + ", ".join(f"{part}: `{name}`" for part, name in sources.items())
            + "); other threads per POST = the other threads' CPU per request / the POSTs'"
            " share (in the POST-only load: its other threads' CPU).",
            "",
            "| workload | shares get/list/post | CPU us/req | sum of parts | excess"
            " | loop | loop, parts | loop excess | other threads per POST |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
    for name in mixes:
        f = results[name]
        shares = weights(all_specs[name])
        parts = sum_of_parts(shares, total)
        loop_parts = sum_of_parts(shares, loop)
        post = shares.get("post", 0.0)
        cells = [
            "/".join(f"{shares.get(p, 0.0):.2f}" for p in PARTS),
            f"{f.total:.0f}",
            f"{parts:.0f}" if parts is not None else "-",
            f"{(f.total / parts - 1) * 100:+.0f} %" if parts else "-",
            f"{f.loop:.0f}",
            f"{loop_parts:.0f}" if loop_parts is not None else "-",
            f"{(f.loop / loop_parts - 1) * 100:+.0f} %" if loop_parts else "-",
            f"{f.other / post:.0f} us" if post else "-",
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    if "post" in results:
        lines.append(
            f"| post (alone) | 0.00/0.00/1.00 | {results['post'].total:.0f} | | | | | |"
            f" {results['post'].other:.0f} us |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="a bench/run.py --keep dir (else built)")
    parser.add_argument(
        "--workload", nargs="+", default=["get", "list", "post", "mix", "mix-reads"]
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per run")
    parser.add_argument("--no-hello", action="store_true", help="skip the aiohttp yardstick")
    parser.add_argument("--out", type=Path, default=servers.BENCH / "results" / "cpu.md")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="reliatic-cpu-"))
    load_before = os.getloadavg()[0]
    try:
        data = Dataset.kept_or_built(args.data, tmp)
        all_specs = workloads(data, data.asset_ids[0])
        all_specs.update(derived(all_specs))
        unknown = [name for name in args.workload if name not in all_specs]
        if unknown:
            parser.error(f"unknown workload(s) {unknown}; known: {sorted(all_specs)}")
        hello = None if args.no_hello else _hello(args.duration, tmp)
        results = _ours(data, args.workload, all_specs, args.duration, args.rounds, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    load_after = os.getloadavg()[0]
    rounds = f"{args.rounds} round" + "s" * (args.rounds != 1)
    header = (
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC · {machine()} · load: {load.tool()},"
        f" {load.CONNECTIONS} connections, pinned to the other core; {rounds} of"
        f" {args.duration:.0f} s per workload, medians. Machine load average (1 min) before"
        f" {load_before:.2f}, after {load_after:.2f}. Command: `{' '.join(sys.argv)}`."
    )
    text = render(results, all_specs, hello, header)
    print("\n" + text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
