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
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC · {_machine()} · load: {r['tool']},"
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
        f" {sum(x['non_2xx'] + x['errors'] for x in ol)} failed).",
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
            f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC · {_machine()} · load: {p['tool']},"
            f" 64 connections, pinned to the other core. Command: `{command}`.",
            "",
            *peer_section(p),
            "",
            f"Whole run: {p['total_seconds'] / 60:.1f} min.",
            "",
        ]
    )


def _machine() -> str:
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
