"""The outbox writes the scheduler makes behind its sends (SPEC §7).

An attempt's outcome, and a lease given back unused, are written by the services
(`services/deliveries.py`) with a linger, so that many share one commit; nobody waits on
them, since a sender's slot is free as soon as the receiver has answered. `Records` follows
those writes until they are committed: how many recorded a success, and, at shutdown, a way
to wait for the rest.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

log = logging.getLogger(__name__)


class Records:
    """The outbox writes made behind the sends, until they are committed: how many recorded
    a success, and a way to wait for the rest (at shutdown)."""

    def __init__(self) -> None:
        self._pending: set[asyncio.Future[Any]] = set()
        self._last_error: BaseException | None = None
        self.succeeded = 0

    def track(self, written: Awaitable[Any]) -> None:
        future = asyncio.ensure_future(written)  # no task for a backend's future
        self._pending.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: asyncio.Future[Any]) -> None:
        self._pending.discard(future)
        if future.cancelled():
            return
        error = future.exception()
        if error is None:
            self.succeeded += future.result() is True
        elif error is not self._last_error:  # a failed commit fails its whole group: log once
            self._last_error = error
            # Not recorded: those rows stay leased until their lease ends, then are sent
            # again (at least once, never lost).
            log.error("recording delivery outcomes failed", exc_info=error)

    async def drain(self) -> None:
        """Until everything tracked so far is written (or has failed to be)."""
        while self._pending:
            await asyncio.wait(list(self._pending))
