"""Single flight per key: a request waits while another request with the same key runs.

Used by `api/idempotency.py` so that two concurrent requests with one Idempotency-Key do the
work once: the second waits for the first to finish, then finds its stored response and
replays it. This holds the requests of one process; with several nodes on one PostgreSQL
database (SPEC §11) the record, checked in the work's transaction, holds the others
(`services/idempotency.py`). It holds an entry only while a request runs, so memory stays
bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Hashable


class InFlight:
    def __init__(self) -> None:
        self._running: dict[Hashable, asyncio.Event] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        """Enter when no other holder of `key` is inside; leave wakes the waiters."""
        while (running := self._running.get(key)) is not None:
            await running.wait()
        done = asyncio.Event()
        self._running[key] = done
        try:
            yield
        finally:
            del self._running[key]
            done.set()

    def __len__(self) -> int:
        return len(self._running)
