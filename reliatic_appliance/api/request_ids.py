"""Request ids for requests that did not bring a sane one (SPEC §3 X-Request-Id)."""

from __future__ import annotations

import itertools
import secrets


class RequestIds:
    """A random per-process prefix and a counter: unique across restarts and processes,
    and cheaper than a uuid4 on every request."""

    def __init__(self) -> None:
        self._prefix = secrets.token_hex(6)
        self._counter = itertools.count(1)

    def next(self) -> str:
        return f"{self._prefix}-{next(self._counter):08x}"
