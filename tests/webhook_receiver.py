"""A real local HTTP receiver for webhook tests: it can succeed, fail, hang and recover."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def payload(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Answers per path: `status[path]` (default 200), optional Retry-After and hanging."""

    status: dict[str, int] = field(default_factory=dict)
    retry_after: dict[str, str] = field(default_factory=dict)
    hang: set[str] = field(default_factory=set)
    # Fail this many times on a path, then answer normally.
    fail_first: dict[str, int] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    base: str = ""

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def on(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.received.append(Received(request.path, dict(request.headers), body))
        if request.path in self.hang:
            await asyncio.sleep(3600)
        remaining = self.fail_first.get(request.path, 0)
        if remaining > 0:
            self.fail_first[request.path] = remaining - 1
            return web.Response(status=503)
        headers = {}
        if request.path in self.retry_after:
            headers["Retry-After"] = self.retry_after[request.path]
        return web.Response(status=self.status.get(request.path, 200), headers=headers)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self.handle)
        return app


async def wait_for(predicate: Any, within: float = 10.0, interval: float = 0.05) -> None:
    """Poll until `predicate()` is true (the scheduler works in the background)."""
    deadline = asyncio.get_running_loop().time() + within
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(interval)
