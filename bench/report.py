"""The benchmark's table: figures, ratios to the aiohttp ceiling, and each target's verdict."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import statistics
from typing import Any

import apsw
from dataset import ACTIONS, ASSETS, FAILURE_MODES, INSPECTIONS, Dataset
from load import Result, Run

_ROWS: list[tuple[str, str]] = [
    ("aiohttp", "aiohttp hello (the ceiling)"),
    ("fastapi", "FastAPI + uvicorn hello (the peer)"),
    ("get", "GET one asset"),
    ("list", "list 25, `type`+`status` filter, `meta.total`"),
    ("search", "`search` over 100k assets (400 terms)"),
    ("post", "POST an asset (group commit)"),
    ("post_naive", "POST an asset, one commit per request"),
    ("mix", "mix 60 % GET / 30 % list / 10 % POST"),
    ("first_page", "list, `page=1`"),
    ("deep_page", "list, `page=3000` (2951..3050)"),
    ("deep_after", "list, `after=` cursor at row 75,000"),
]


def parse_webhook_output(code: int, stdout: str, stderr: str) -> dict[str, Any]:
    """Deliveries/s from `webhook_throughput.py`: a JSON line with a `*per_s*` key, or a
    line with a number before 'deliveries/s'."""
    if code != 0:
        tail = (stderr or stdout).strip().splitlines()[-1:] or ["no output"]
        return {"error": f"exit {code}: {tail[0][:200]}"}
    for line in reversed(stdout.strip().splitlines()):
        try:
            data = json.loads(line)
        except ValueError:
            match = re.search(r"([\d,]+(?:\.\d+)?)\s*deliveries\s*(?:/|per)\s*s", line)
            if match:
                return {"deliveries_per_s": float(match[1].replace(",", "")), "raw": line}
            continue
        if isinstance(data, dict):
            for key, value in data.items():
                if "per_s" in key and isinstance(value, int | float):
                    return {"deliveries_per_s": float(value), "raw": data}
    return {"error": "no deliveries/s figure in its output", "raw": stdout[-300:]}


def _fmt(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def _verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"


def _targets(r: dict[str, Any]) -> list[tuple[str, str, str]]:
    ceiling = r["aiohttp"].rps
    rows = []
    get = r["get"].rps
    rows.append(
        (
            "GET one asset >= 0.6x ceiling and >= 1.5x FastAPI",
            f"{get / ceiling:.2f}x ceiling, {get / r['fastapi'].rps:.2f}x FastAPI",
            _verdict(get >= 0.6 * ceiling and get >= 1.5 * r["fastapi"].rps),
        )
    )
    for name, label, floor in (
        ("list", "list 25 with filters and total >= 0.25x ceiling", 0.25),
        ("search", "search over 100k >= 0.15x ceiling", 0.15),
    ):
        ratio = r[name].rps / ceiling
        rows.append((label, f"{ratio:.2f}x", _verdict(ratio >= floor)))
    ratio = r["post"].rps / r["post_naive"].rps
    rows.append(
        ("acknowledged writes >= 3x one commit per request", f"{ratio:.1f}x", _verdict(ratio >= 3))
    )
    p99 = r["mix"].p99_ms
    rows.append(("mix p99 < 50 ms at 64 connections", f"{p99:.1f} ms", _verdict(p99 < 50)))
    deep = r["first_page"].rps / r["deep_page"].rps
    rows.append(("page=3000 costs <= 5x page=1", f"{deep:.2f}x (by req/s)", _verdict(deep <= 5)))
    wh = r["webhooks"]
    label = "webhook deliveries >= 1,000/s (bench/webhook_throughput.py)"
    if "deliveries_per_s" in wh:
        rate = wh["deliveries_per_s"]
        rows.append((label, _fmt(rate) + "/s", _verdict(rate >= 1000)))
    else:
        rows.append((label, wh["error"], "not measured"))
    lim = r["limiter"]
    rows.append(
        (
            "rate limiter memory bounded at 1M keys",
            f"{lim['rss_at_1m_mib']:.0f} MiB RSS at 1M keys, +{lim['growth_1m_to_2m_mib']:.1f} MiB"
            f" from 1M to 2M (unbounded: +{lim['unbounded_growth_mib']:.0f} MiB)",
            _verdict(lim["growth_1m_to_2m_mib"] < 2 and lim["tracked_after"] <= lim["max_tracked"]),
        )
    )
    return rows


def _targets_16(r: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Issue 16's targets that the main table measures (the peer ratios have their own)."""
    search = r["search"].rps / r["aiohttp"].rps
    writes = [a.rps / b.rps for a, b in zip(r["post"].runs, r["post_naive"].runs, strict=True)]
    mix = r["mix"].p99_ms
    uvloop = Result(r["peer"]["runs"]["mix", "uvloop"]).p99_ms
    return [
        ("`search` over 100k >= 0.1x aiohttp hello", f"{search:.2f}x", _verdict(search >= 0.1)),
        (
            "acknowledged writes >= 3x one commit per request, in each of the runs",
            ", ".join(f"{x:.1f}x" for x in writes),
            _verdict(all(x >= 3 for x in writes)),
        ),
        (
            "mix p99 <= 50 ms at 64 connections",
            f"{mix:.1f} ms (on uvloop, in the peer rounds: {uvloop:.1f} ms)",
            _verdict(mix <= 50),
        ),
    ]


def render(r: dict[str, Any], data: Dataset) -> str:
    ceiling = r["aiohttp"].rps
    lines = [
        "# Benchmark results",
        "",
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC · {machine()} · load: {r['tool']},"
        f" 64 connections, pinned to the other core; {len(r['get'].runs)} runs per workload,"
        " median and spread (min-max) of req/s, median p50/p99.",
        "",
        f"Dataset (built through the project's code in {data.build_seconds:.0f} s): tenant"
        f" `bench` with {ASSETS:,} assets, {INSPECTIONS:,} inspections, {FAILURE_MODES:,}"
        f" failure modes, {ACTIONS:,} actions; tenant `bench-two` with 2,000 assets."
        " Server: `reliatic serve`, production defaults (`synchronous=FULL`, access log on).",
        "",
        "| workload | req/s | spread | p50 ms | p99 ms | x ceiling | failed |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for key, label in _ROWS:
        res: Result = r[key]
        lines.append(
            f"| {label} | {_fmt(res.rps)} | {_fmt(res.rps_min)}-{_fmt(res.rps_max)} |"
            f" {res.p50_ms:.2f} | {res.p99_ms:.2f} | {res.rps / ceiling:.2f} | {res.failed} |"
        )
    ol = r["open_loop"]
    offered = ol[0]["offered_rps"]
    lines += [
        "",
        f"Open loop, the mix at a fixed {offered:,.0f} req/s (half its measured maximum),"
        " latency from each request's due time (`bench/loadgen.py`):"
        f" p50 {statistics.median(x['p50_ms'] for x in ol):.2f} ms,"
        f" p99 {statistics.median(x['p99_ms'] for x in ol):.2f} ms,"
        f" p99.9 {statistics.median(x['p999_ms'] for x in ol):.2f} ms"
        f" (p99 per run: {', '.join(format(x['p99_ms'], '.1f') for x in ol)} ms;"
        f" {_open_loop_failed(ol)}).",
        "",
        f"Server resident memory: {r['rss_start_mib']:.0f} MiB at start,"
        f" {r['rss_end_mib']:.0f} MiB after the load. Machine load average (1 min) before"
        f" the measurements {r['loadavg_start']:.2f}, after {r['loadavg_end']:.2f}: anything"
        " well above the load tool's own 1.0 means other work shared these two cores.",
        "",
        "## Targets (issue 7)",
        "",
        "| target | measured | verdict |",
        "|---|---|---|",
    ]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in _targets(r)]
    if "peer" in r:
        lines += ["", *peer_section(r["peer"])]
        lines += ["", "## The other targets of issue 16", "", "| target | measured | verdict |"]
        lines += ["|---|---|---|", *(f"| {a} | {b} | {c} |" for a, b, c in _targets_16(r))]
    lines += ["", f"Whole run: {r['total_seconds'] / 60:.1f} min.", ""]
    return "\n".join(lines)


# The peer comparison's rows: (label, workload, ours, against, target ratio).
_PEER_ROWS = (
    ("GET one asset, ours / same-work peer", "get", "ours", "peer", 1.5),
    ("list 25 (`type`+`status`, `meta.total`), ours / same-work peer", "list", "ours", "peer", 2.0),
    ("GET one asset, ours / aiohttp hello", "get", "ours", "hello", 0.3),
    ("same-work peer GET / aiohttp hello", "get", "peer", "hello", None),
    ("GET one asset, ours on uvloop / same-work peer", "get", "uvloop", "peer", None),
    ("list 25, ours on uvloop / same-work peer", "list", "uvloop", "peer", None),
    ("GET one asset, ours on uvloop / ours", "get", "uvloop", "ours", None),
    ("list 25, ours on uvloop / ours", "list", "uvloop", "ours", None),
    ("mix, ours on uvloop / ours", "mix", "uvloop", "ours", None),
)
_PEER_WORKLOADS = (
    ("get", "GET one asset"),
    ("list", "list 25, filters, total"),
    ("mix", "mix 60 % GET / 30 % list / 10 % POST"),
)
_PEER_COLUMNS = ("ours", "uvloop", "peer", "hello")


def _paired(runs: dict[Any, list[Run]], workload: str, a: str, b: str) -> list[float]:
    return [x.rps / y.rps for x, y in zip(runs[workload, a], runs[workload, b], strict=True)]


def peer_section(p: dict[str, Any]) -> list[str]:
    """The same-work peer rows (issue 16): medians of req/s, and each ratio as the median
    of the per-round ratios with their spread (min-max)."""
    runs = p["runs"]
    lines = [
        "## Same-work peer (issue 16)",
        "",
        f"`bench/peer.py`: FastAPI + uvicorn (uvloop, httptools) doing our GET and list's work"
        f" over the same data dir (key lookup and cache, revocation check, rate-limit counter,"
        f" row read, pydantic models, envelope, ETag, headers; bodies byte-identical,"
        f" tests/test_bench_peer.py). Our server, the peer and the aiohttp hello ran side by"
        f" side, with ours a second time on uvloop (`[server] event_loop`); {p['pairs']}"
        f" rounds of {p['duration']:.0f} s runs, the load going to one server at a time and"
        f" the order rotating round by round. Load average (1 min) {p['loadavg_start']:.2f}"
        f" before, {p['loadavg_end']:.2f} after.",
        "",
        "| workload | ours req/s | ours on uvloop req/s | same-work peer req/s"
        " | aiohttp hello req/s | failed |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for workload, label in _PEER_WORKLOADS:
        cells, failed = [], 0
        for server in _PEER_COLUMNS:
            if (workload, server) not in runs:
                cells.append("-")
                continue
            result = Result(runs[workload, server])
            cells.append(_fmt(result.rps))
            failed += result.failed
        lines.append(f"| {label} | {' | '.join(cells)} | {failed} |")
    mix_ours, mix_uvloop = Result(runs["mix", "ours"]), Result(runs["mix", "uvloop"])
    lines += [
        "",
        f"Mix at 64 connections (closed loop), median of the rounds: p50 {mix_ours.p50_ms:.2f} ms,"
        f" p99 {mix_ours.p99_ms:.2f} ms; on uvloop p50 {mix_uvloop.p50_ms:.2f} ms,"
        f" p99 {mix_uvloop.p99_ms:.2f} ms.",
    ]
    lines += [
        "",
        "| ratio | median of the rounds | spread (min-max) | target | verdict |",
        "|---|---:|---:|---:|---|",
    ]
    for label, workload, a, b, target in _PEER_ROWS:
        ratios = _paired(runs, workload, a, b)
        median = statistics.median(ratios)
        verdict = "" if target is None else _verdict(median >= target)
        lines.append(
            f"| {label} | {median:.2f}x | {min(ratios):.2f}-{max(ratios):.2f}x |"
            f" {'' if target is None else f'>= {target}x'} | {verdict} |"
        )
    return lines


def render_peer_only(p: dict[str, Any], command: str) -> str:
    """`--only peer`: the peer section alone, with when, where and how it was run."""
    return "\n".join(
        [
            "# Same-work peer comparison",
            "",
            f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC · {machine()} · load: {p['tool']},"
            f" 64 connections, pinned to the other core. Command: `{command}`.",
            "",
            *peer_section(p),
            "",
            f"Whole run: {p['total_seconds'] / 60:.1f} min.",
            "",
        ]
    )


def machine() -> str:
    cpu = platform.processor() or "cpu"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()},"
        f" SQLite {apsw.sqlite_lib_version()}"
    )


# The PostgreSQL leg's labels where they differ from the SQLite leg's (issue 15, "Speed").
_PG_LABELS = {
    "post": "POST an asset (one transaction and commit each)",
    "search": "`search` over 100k assets (400 terms)",
}
_PG_NAIVE = (
    "not run: the naive server turns off the SQLite backend's group commit (one fsync for"
    " many writes); PostgreSQL has no such switch, each write is its own transaction"
)


def _open_loop_failed(runs: list[dict[str, Any]]) -> str:
    """'0 failed', or how many and what they were (HTTP statuses, connection errors)."""
    failed = sum(x["non_2xx"] + x["errors"] for x in runs)
    if not failed:
        return "0 failed"
    kinds: dict[str, int] = {}
    for x in runs:
        for status, n in x.get("statuses", {}).items():
            if int(status) >= 400:
                kinds[f"HTTP {status}"] = kinds.get(f"HTTP {status}", 0) + n
        if x["errors"]:
            kinds["connection errors"] = kinds.get("connection errors", 0) + x["errors"]
    what = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
    return f"{failed} failed" + (f": {what}" if what else "")


def render_postgresql(r: dict[str, Any], data: Dataset, command: str) -> str:
    """`--backend postgresql`: the same table as `render`, the copy, and one node against two."""
    ceiling = r["aiohttp"].rps
    pg = r["postgresql"]
    copy = r["copy"]
    lines = [
        "# Benchmark results: PostgreSQL backend",
        "",
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC · {machine()} · PostgreSQL"
        f" {pg['server_version']} · load: {r['tool']}, 64 connections, pinned to the other"
        f" core; {len(r['get'].runs)} runs per workload, median and spread (min-max) of req/s,"
        f" median p50/p99. Command: `{command}`.",
        "",
        f"Dataset: the SQLite leg's (bench/dataset.py, built through the project's code in"
        f" {data.build_seconds:.0f} s): tenant `bench` with {ASSETS:,} assets,"
        f" {INSPECTIONS:,} inspections, {FAILURE_MODES:,} failure modes, {ACTIONS:,} actions;"
        f" tenant `bench-two` with 2,000 assets; then moved into PostgreSQL by"
        f" `reliatic storage copy` ({copy['rows']:,} rows in {copy['seconds']:.0f} s, verified"
        f" table by table: {'ok' if copy['ok'] else 'DIFFERED'}). PostgreSQL: a throwaway"
        f" cluster on the local disk, Unix socket, durable settings as a production server"
        f" runs: fsync={pg['fsync']}, synchronous_commit={pg['synchronous_commit']},"
        f" full_page_writes={pg['full_page_writes']}; max_connections 300, the rest at"
        f" PostgreSQL's defaults (shared_buffers {pg['shared_buffers']}); not pinned (it"
        " shares both cores). Server: `reliatic serve`"
        f' with `[storage] backend = "postgresql"` (dsn: the login role, RLS on), pinned to'
        f" the server core, access log on.",
        "",
        "| workload | req/s | spread | p50 ms | p99 ms | x ceiling | failed |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for key, label in _ROWS:
        label = _PG_LABELS.get(key, label)
        if key == "post_naive":
            lines.append(f"| {label} | {_PG_NAIVE} | | | | | |")
            continue
        res: Result = r[key]
        if res.rps_max == 0:
            lines.append(
                f"| {label} | 0: no request completed within a {r['duration']:.0f} s run"
                " (wrk counts the unfinished as neither done nor failed; see below) | | | | | |"
            )
            continue
        lines.append(
            f"| {label} | {_fmt(res.rps)} | {_fmt(res.rps_min)}-{_fmt(res.rps_max)} |"
            f" {res.p50_ms:.2f} | {res.p99_ms:.2f} | {res.rps / ceiling:.2f} | {res.failed} |"
        )
    ol = r["open_loop"]
    lines += [
        "",
        f"Open loop, the mix at a fixed {ol[0]['offered_rps']:,.0f} req/s (half its measured"
        " maximum), latency from each request's due time (`bench/loadgen.py`):"
        f" p50 {statistics.median(x['p50_ms'] for x in ol):.2f} ms,"
        f" p99 {statistics.median(x['p99_ms'] for x in ol):.2f} ms,"
        f" p99.9 {statistics.median(x['p999_ms'] for x in ol):.2f} ms"
        f" ({_open_loop_failed(ol)}).",
        "",
        f"Server resident memory: {r['rss_start_mib']:.0f} MiB at start,"
        f" {r['rss_end_mib']:.0f} MiB after the load.",
        "",
        "After each workload the run waited until one GET answered in under 250 ms again"
        " (requests the load tool gave up on at its 10 s timeout are still queued for the"
        " connection pool; they would be measured into the next workload): "
        + ", ".join(
            f"{key} {r[f'{key}_drain_s']:.1f} s" for key, _ in _ROWS if f"{key}_drain_s" in r
        )
        + ".",
        "",
        *copy_section(copy),
        "",
        *nodes_section(r["nodes"]),
        "",
        f"Machine load average (1 min) before the measurements {r['loadavg_start']:.2f}, after"
        f" {r['loadavg_end']:.2f}: anything well above the load tool's own 1.0 means other"
        " work shared these two cores. The webhook, rate limiter and same-work peer rows of"
        " latest.md do not depend on the storage backend, or read SQLite files directly"
        " (the peer): not repeated here.",
        "",
        f"Whole run: {r['total_seconds'] / 60:.1f} min.",
        "",
    ]
    return "\n".join(lines)


def copy_section(copy: dict[str, Any]) -> list[str]:
    """`reliatic storage copy` of the bench data dir: each table's rows and checksums."""
    tables = copy.get("tables")
    if not tables:  # a result from before the tables were kept
        return []
    lines = [
        "## The copy: `reliatic storage copy` of the bench data dir (SPEC §11)",
        "",
        f"{copy['rows']:,} rows in {copy['seconds']:.1f} s (the command's own wall time,"
        " migration, copy, verification and VACUUM ANALYZE included), into the durable"
        " cluster above. Each table's rows (all tenants) and the SHA-256 of its rows in"
        " SQLite and as read back from PostgreSQL, compared by the command before it"
        " committed:",
        "",
        "| table | rows | checksum (SQLite) | checksum (PostgreSQL) | ok |",
        "|---|---:|---|---|---|",
    ]
    for t in tables:
        lines.append(
            f"| {t['table']} | {t['rows']:,} | `{t['checksum'][:16]}…` |"
            f" `{t['target_checksum'][:16]}…` | {'ok' if t['ok'] else 'DIFFERS'} |"
        )
    return lines


def nodes_section(n: dict[str, Any]) -> list[str]:
    """Writes/s through one node against two nodes on the same database."""
    if "one" in n:  # one case alone, as the first version of the leg measured it
        n = {"one tenant": {"one": [[r] for r in n["one"]], "two": [list(x) for x in n["two"]]}}
    lines = [
        "## Writes: one node against two (issue 15)",
        "",
        "POST an asset, 64 connections in all: first all on one `reliatic serve`, then 32 on"
        " each of two `reliatic serve` processes on the same database (one load process per"
        " group of 32, all at once); each round measures one node, then two, so both saw the"
        " same machine. *One tenant*: every write to tenant `bench`, whose advisory lock"
        " serialises its writes across the nodes (one writer per tenant, as on SQLite)."
        " *Two tenants*: 32 connections write to `bench` and 32 to `bench-two` (with two"
        " nodes, one tenant per node). Both nodes are pinned to the same server core (the"
        " machine has two: the other runs the load) and PostgreSQL shares both, so a second"
        " node adds no CPU here: this shows that writes through two nodes work and how the"
        " lock and the commits share out, not how a second machine would scale.",
        "",
        "| case | nodes | writes/s (sum) | spread | p50 ms | p99 ms | failed |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    ratios: list[str] = []
    for case, counts in n.items():
        totals: dict[str, list[float]] = {}
        for count, rounds in counts.items():
            sums = [sum(r.rps for r in legs) for legs in rounds]
            totals[count] = sums
            per_leg = [Result([legs[i] for legs in rounds]) for i in range(len(rounds[0]))]
            p50 = " / ".join(f"{x.p50_ms:.1f}" for x in per_leg)
            p99 = " / ".join(f"{x.p99_ms:.1f}" for x in per_leg)
            failed = sum(x.failed for x in per_leg)
            lines.append(
                f"| {case} | {count} | {_fmt(statistics.median(sums))} |"
                f" {_fmt(min(sums))}-{_fmt(max(sums))} | {p50} | {p99} | {failed} |"
            )
        r = [t / o for t, o in zip(totals["two"], totals["one"], strict=True)]
        ratios.append(f"{case}: {statistics.median(r):.2f}x ({min(r):.2f}-{max(r):.2f}x)")
    lines += [
        "",
        "Two nodes / one node, median of the rounds' ratios (spread): "
        + "; ".join(ratios)
        + ". p50/p99 are per load process (per group of 32 connections where there are two).",
    ]
    return lines
