"""An asyncio HTTP/1.1 load generator: open loop at a fixed rate, or closed loop.

Open loop (`--rate R`): request i is *due* at start + i/R whatever happened before, and its
latency is measured from that due time, not from when a connection was free to send it.
A closed-loop tool (wrk) only sends when a connection is idle, so a server that stalls also
stops the clock: queueing delay disappears from its percentiles (coordinated omission).
Here it shows, because late requests wait in the queue and their wait counts.

Closed loop (`--rate 0`): every connection sends its next request as soon as the previous
answer arrived; the fallback where `wrk` is not installed.

Input: a JSON file with a list of requests `{"method", "path", "body"?}`, cycled in order;
`{n}` in a body becomes a per-request counter (unique tag numbers for POSTs). Output: one
JSON line with the counts and latency percentiles in milliseconds.

Run: `python bench/loadgen.py --port P --key K --requests R.json --rate 1500 --duration 5`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Iterator
from itertools import cycle
from pathlib import Path
from typing import Any


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, int(fraction * len(sorted_values)))
    return sorted_values[index]


class Requests:
    """Raw HTTP/1.1 request bytes, cycled; POST bodies numbered so each is unique."""

    def __init__(self, specs: list[dict[str, Any]], host: str, key: str, tag: str) -> None:
        self._specs: Iterator[dict[str, Any]] = cycle(specs)
        self._host = host
        self._key = key
        self._tag = tag
        self._n = 0

    def next(self) -> bytes:
        spec = next(self._specs)
        self._n += 1
        head = (
            f"{spec['method']} {spec['path']} HTTP/1.1\r\nHost: {self._host}\r\n"
            f"Authorization: Bearer {self._key}\r\n"
        )
        body = spec.get("body")
        if body is None:
            return (head + "\r\n").encode()
        data = body.replace("{n}", f"{self._tag}-{self._n}").encode()
        return (
            head + f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
        ).encode() + data


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> int:
    """Send one request, read its whole response; return the status code."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status


class Tally:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        # `time.perf_counter()` when each answer arrived, in step with `latencies`: when in
        # a run the slow ones came (bench/write_stalls.py).
        self.finished: list[float] = []
        self.statuses: dict[int, int] = {}
        self.errors = 0

    def add(self, status: int, latency: float) -> None:
        self.latencies.append(latency)
        self.finished.append(time.perf_counter())
        self.statuses[status] = self.statuses.get(status, 0) + 1

    def summary(self, elapsed: float, **extra: Any) -> dict[str, Any]:
        values = sorted(self.latencies)
        good = sum(n for s, n in self.statuses.items() if s < 400)
        return {
            "requests": len(values),
            "rps": len(values) / elapsed,
            "non_2xx": len(values) - good,
            "errors": self.errors,
            # What the non-2xx were, by status (a report can say which failed, and why).
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "p50_ms": percentile(values, 0.50) * 1000,
            "p99_ms": percentile(values, 0.99) * 1000,
            "p999_ms": percentile(values, 0.999) * 1000,
            "max_ms": (values[-1] if values else float("nan")) * 1000,
            **extra,
        }


async def open_loop(
    host: str, port: int, requests: Requests, rate: float, duration: float, connections: int
) -> dict[str, Any]:
    queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()
    tally = Tally()

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while (item := await queue.get()) is not None:
                due, request = item
                try:
                    status = await _exchange(reader, writer, request)
                except (OSError, asyncio.IncompleteReadError):
                    tally.errors += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                    continue
                tally.add(status, time.perf_counter() - due)
        finally:
            writer.close()

    workers = [asyncio.create_task(worker()) for _ in range(connections)]
    await asyncio.sleep(0.2)  # connections open before the clock starts
    start = time.perf_counter()
    total = int(rate * duration)
    sent = 0
    while sent < total:
        now = time.perf_counter()
        due_count = min(total, int((now - start) * rate) + 1)
        while sent < due_count:
            queue.put_nowait((start + sent / rate, requests.next()))
            sent += 1
        await asyncio.sleep(min(0.001, 1 / rate))
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    elapsed = time.perf_counter() - start
    return tally.summary(elapsed, offered_rps=rate, mode="open")


async def closed_loop(
    host: str,
    port: int,
    requests: Requests,
    duration: float,
    connections: int,
    tally: Tally | None = None,
) -> dict[str, Any]:
    """`tally`: the caller's, to look at every request afterwards, not only the summary."""
    tally = Tally() if tally is None else tally
    deadline = 0.0

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.perf_counter() < deadline:
                sent = time.perf_counter()
                try:
                    status = await _exchange(reader, writer, requests.next())
                except (OSError, asyncio.IncompleteReadError):
                    tally.errors += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                    continue
                tally.add(status, time.perf_counter() - sent)
        finally:
            writer.close()

    start = time.perf_counter()
    deadline = start + duration
    await asyncio.gather(*(worker() for _ in range(connections)))
    return tally.summary(time.perf_counter() - start, mode="closed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--key", default="")
    parser.add_argument("--requests", type=Path, required=True)
    parser.add_argument("--rate", type=float, default=0.0, help="requests/s; 0: closed loop")
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--tag", default=f"OL{int(time.time()) % 100000}")
    args = parser.parse_args()
    specs = json.loads(args.requests.read_text(encoding="utf-8"))
    requests = Requests(specs, f"{args.host}:{args.port}", args.key, args.tag)
    if args.rate > 0:
        result = asyncio.run(
            open_loop(args.host, args.port, requests, args.rate, args.duration, args.connections)
        )
    else:
        result = asyncio.run(
            closed_loop(args.host, args.port, requests, args.duration, args.connections)
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
