"""Fixed-window rate limiter with windows in memory (SPEC §4).

Windows are aligned to multiples of ``window_seconds`` since the epoch, so every bucket of a
limiter resets at the same instant and the whole table is dropped at rollover: no per-bucket
expiry, no sweeper task. ``X-RateLimit-Reset`` is then the same for every client of a limiter.

Memory stays bounded however many keys and addresses appear (§4): a limiter tracks at most
``max_tracked`` buckets per window. Past that, the bucket inserted first is evicted. Trade-off:
an evicted bucket starts again at 0 within the same window, so a client could get more than its
limit — but only when more than ``max_tracked`` distinct clients hit one limiter inside one
window, and an attacker able to do that already gets a fresh quota with every new address.
Give API keys and client addresses separate limiters, so a flood of addresses cannot evict
the keys' windows.

Several API nodes on one database (SPEC §11) keep their windows in memory each, so a limiter
built with ``nodes`` admits ``limit // nodes`` (at least 1) per window: the sum over the nodes
stays within the limit however a load balancer spreads a client's requests. The headers then
describe this node's share, which is what this node enforces.

Single-threaded by design: it runs on the event loop and never awaits, so no lock is needed.
"""

import math
import time
from collections import deque
from collections.abc import Callable, MutableMapping
from typing import NamedTuple

Clock = Callable[[], float]
"""Seconds since the epoch, like ``time.time``; tests pass a fake one."""


class RateDecision(NamedTuple):
    """The verdict for one request and what its response headers say about the window.

    A named tuple, not a frozen dataclass: one is made for every request, and a frozen
    dataclass sets each field through `object.__setattr__` (`bench/instructions.py`)."""

    allowed: bool
    limit: int
    remaining: int
    reset_at: int  # unix seconds when the window resets
    retry_after: int  # seconds, >= 1 when not allowed, 0 otherwise

    def stamp(self, headers: MutableMapping[str, str]) -> None:
        """Set the ``X-RateLimit-*`` headers every response carries, and ``Retry-After`` on
        a 429 (§4)."""
        headers["X-RateLimit-Limit"] = str(self.limit)
        headers["X-RateLimit-Remaining"] = str(self.remaining)
        headers["X-RateLimit-Reset"] = str(self.reset_at)
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after)


class FixedWindowLimiter:
    """Counts requests per bucket (an API key id, a client address...) in fixed windows."""

    __slots__ = (
        "_clock",
        "_counts",
        "_max_tracked",
        "_nodes",
        "_order",
        "_window",
        "_window_end",
        "_window_start",
    )

    def __init__(
        self,
        *,
        window_seconds: int = 60,
        max_tracked: int = 100_000,
        nodes: int = 1,
        clock: Clock = time.time,
    ) -> None:
        if window_seconds < 1:
            raise ValueError("window_seconds must be >= 1")
        if max_tracked < 1:
            raise ValueError("max_tracked must be >= 1")
        if nodes < 1:
            raise ValueError("nodes must be >= 1")
        self._window = window_seconds
        self._max_tracked = max_tracked
        self._nodes = nodes
        self._clock = clock
        # Empty range, so the first call opens the current window.
        self._window_start = 0
        self._window_end = 0
        self._counts: dict[str, int] = {}
        # Insertion order of _counts, kept beside it because evicting through
        # `next(iter(dict))` is not O(1): CPython leaves deleted slots at the front of the
        # entry table until the next resize, and each lookup of the first key walks past them
        # (measured: 1M distinct buckets at max_tracked=100k took 92 s that way, 0.6 s with
        # this deque). Keys enter once per window and leave only by eviction or rollover,
        # so the deque and the dict always hold the same keys in the same order.
        self._order: deque[str] = deque()

    @property
    def window_seconds(self) -> int:
        return self._window

    @property
    def max_tracked(self) -> int:
        return self._max_tracked

    def __len__(self) -> int:
        return len(self._counts)

    def share(self, limit: int) -> int:
        """What this node admits of ``limit`` (module doc): floored so the nodes' sum never
        exceeds it, but never 0, which would refuse every request."""
        return limit if self._nodes == 1 else max(1, limit // self._nodes)

    def hit(self, bucket: str, limit: int) -> RateDecision:
        """Count one request of ``bucket`` and decide it against ``limit`` per window.

        A denied request counts too (a client hammering through its 429s stays limited),
        but ``remaining`` never goes below 0.
        """
        if limit < 0:
            raise ValueError("limit must be >= 0")
        limit = self.share(limit)
        now = self._now()
        counts = self._counts
        count = counts.get(bucket, 0) + 1
        if count == 1:
            order = self._order
            order.append(bucket)
            if len(order) > self._max_tracked:
                del counts[order.popleft()]
        counts[bucket] = count
        return self._decide(count, limit, now, count <= limit)

    def peek(self, bucket: str, limit: int) -> RateDecision:
        """The window's state without counting: ``allowed`` says whether a next request
        would pass, ``remaining`` how many still would."""
        if limit < 0:
            raise ValueError("limit must be >= 0")
        limit = self.share(limit)
        now = self._now()
        count = self._counts.get(bucket, 0)
        return self._decide(count, limit, now, count < limit)

    def _now(self) -> float:
        """Read the clock; drop the whole table when it has left the current window."""
        now = self._clock()
        # Outside [start, end) in either direction: if the wall clock steps back (NTP),
        # starting afresh briefly lets a client through early, while keeping the old window
        # would lock it out until the clock caught up again.
        if not self._window_start <= now < self._window_end:
            self._window_start = int(now // self._window) * self._window
            self._window_end = self._window_start + self._window
            self._counts.clear()
            self._order.clear()
        return now

    def _decide(self, count: int, limit: int, now: float, allowed: bool) -> RateDecision:
        end = self._window_end
        # retry_after: whole seconds, rounded up and at least 1, so a client that waits that
        # long always lands in the next window.
        return RateDecision(
            allowed,
            limit,
            max(0, limit - count),
            end,
            0 if allowed else max(1, math.ceil(end - now)),
        )
