"""Driving load from a separate process: `wrk` (closed loop) or `loadgen.py` (open loop).

A workload is a list of requests `{"method", "path", "body"?}` cycled in order (`{n}` in a
body becomes a per-request counter, so every POST has its own tag number). `wrk` gets them
through a small generated Lua script whose `done()` prints one JSON line; where `wrk` is not
installed the asyncio generator runs the same list in closed-loop mode instead. The load
process is pinned to the core the servers do not use (`taskset`), where there are two.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
CONNECTIONS = 64

_LUA = """
local auth = %(auth)s
local specs = %(specs)s
local tag = %(tag)s
local n = 0
request = function()
  n = n + 1
  local spec = specs[(n - 1) %% #specs + 1]
  local headers = {}
  if auth ~= "" then headers["Authorization"] = "Bearer " .. auth end
  if spec[3] ~= nil then
    headers["Content-Type"] = "application/json"
    local body = string.gsub(spec[3], "{n}", tag .. "-" .. n)
    return wrk.format(spec[1], spec[2], headers, body)
  end
  return wrk.format(spec[1], spec[2], headers)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%%d,"duration_us":%%d,"socket_errors":%%d,"non_2xx":%%d,' ..
    '"p50_us":%%d,"p99_us":%%d,"max_us":%%d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def _lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a valid Lua string literal here


def _lua_specs(specs: list[dict[str, Any]]) -> str:
    rows = []
    for spec in specs:
        parts = [_lua_string(spec["method"]), _lua_string(spec["path"])]
        if spec.get("body") is not None:
            parts.append(_lua_string(spec["body"]))
        rows.append("{" + ", ".join(parts) + "}")
    return "{\n" + ",\n".join(rows) + "\n}"


def pinned(command: list[str], core: int) -> list[str]:
    """`command` under `taskset -c core` when the machine has a second core to give."""
    if (os.cpu_count() or 1) >= 2 and shutil.which("taskset"):
        return ["taskset", "-c", str(core), *command]
    return command


LOAD_CORE = 1
SERVER_CORE = 0


@dataclass(frozen=True)
class Run:
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    errors: int


@dataclass(frozen=True)
class Result:
    """Three runs of one workload: medians, and the spread of requests/s."""

    runs: list[Run]

    @property
    def rps(self) -> float:
        return statistics.median(r.rps for r in self.runs)

    @property
    def rps_min(self) -> float:
        return min(r.rps for r in self.runs)

    @property
    def rps_max(self) -> float:
        return max(r.rps for r in self.runs)

    @property
    def p50_ms(self) -> float:
        return statistics.median(r.p50_ms for r in self.runs)

    @property
    def p99_ms(self) -> float:
        return statistics.median(r.p99_ms for r in self.runs)

    @property
    def failed(self) -> int:
        return sum(r.non_2xx + r.errors for r in self.runs)


def _wrk(
    port: int,
    specs: list[dict[str, Any]],
    key: str,
    duration: float,
    tag: str,
    connections: int = CONNECTIONS,
) -> Run:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(
            _LUA % {"auth": _lua_string(key), "specs": _lua_specs(specs), "tag": _lua_string(tag)}
        )
    try:
        command = [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(duration))}s",
            "--timeout",
            "10s",
            "-s",
            script.name,
            f"http://127.0.0.1:{port}",
        ]
        out = subprocess.run(
            pinned(command, LOAD_CORE),
            capture_output=True,
            text=True,
            timeout=duration + 60,
            check=True,
        ).stdout
    finally:
        os.unlink(script.name)
    line = next(x for x in out.splitlines() if x.startswith("WRKJSON "))
    data = json.loads(line.removeprefix("WRKJSON "))
    return Run(
        rps=data["requests"] / (data["duration_us"] / 1e6),
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        non_2xx=data["non_2xx"],
        errors=data["socket_errors"],
    )


def loadgen(
    port: int,
    specs: list[dict[str, Any]],
    key: str,
    duration: float,
    tag: str,
    rate: float,
    connections: int = CONNECTIONS,
) -> dict[str, Any]:
    """The asyncio generator in its own process; `rate` 0 is closed loop."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as file:
        json.dump(specs, file)
    try:
        command = [
            sys.executable,
            str(BENCH / "loadgen.py"),
            "--port",
            str(port),
            "--key",
            key,
            "--requests",
            file.name,
            "--rate",
            str(rate),
            "--duration",
            str(duration),
            "--connections",
            str(connections),
            "--tag",
            tag,
        ]
        out = subprocess.run(
            pinned(command, LOAD_CORE),
            capture_output=True,
            text=True,
            timeout=duration + 120,
            check=True,
        ).stdout
    finally:
        os.unlink(file.name)
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def closed_loop(
    port: int,
    specs: list[dict[str, Any]],
    key: str,
    duration: float,
    tag: str,
    connections: int = CONNECTIONS,
) -> Run:
    if shutil.which("wrk"):
        return _wrk(port, specs, key, duration, tag, connections)
    data = loadgen(port, specs, key, duration, tag, 0, connections)
    return Run(data["rps"], data["p50_ms"], data["p99_ms"], data["non_2xx"], data["errors"])


def measure(
    port: int,
    specs: list[dict[str, Any]],
    *,
    key: str = "",
    duration: float,
    runs: int,
    warmup: float = 1.0,
    tag: str = "",
    connections: int = CONNECTIONS,
) -> Result:
    """A short warm-up, then `runs` timed runs of `duration` seconds each."""
    stamp = f"{tag or 'B'}{int(time.time() * 1000) % 10_000_000}"
    closed_loop(port, specs, key, warmup, f"{stamp}w", connections)
    return Result(
        [closed_loop(port, specs, key, duration, f"{stamp}r{i}", connections) for i in range(runs)]
    )


def tool() -> str:
    return "wrk 4 (closed loop, Lua)" if shutil.which("wrk") else "bench/loadgen.py closed loop"
