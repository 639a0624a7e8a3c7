"""The access log: one JSON line per request (SPEC §8), written in batches.

Going through `logging` costs every request a LogRecord, a walk of the stack for the
caller, a lock and a write system call: a fifth of a small GET's time under load. So when
the access logger's lines can only end up in the JSON handler that `configure_logging`
installed, the line is built exactly as that handler would build it (`logs.json_line`) and
the lines of one event-loop iteration are written together. Anywhere else (a test's
caplog, an embedding application's own handlers) they go through `logging` as usual.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from reliatic_appliance.logs import JsonFormatter, encode, json_line, seconds_stamp

LOGGER = "reliatic.access"


def _sole_json_handler(logger: logging.Logger) -> logging.StreamHandler[Any] | None:
    """The handler every line of `logger` reaches, if it is our JSON stream handler alone
    and nothing on the way filters."""
    handlers: list[logging.Handler] = []
    current: logging.Logger | None = logger
    while current is not None:
        if current.filters:
            return None
        handlers.extend(current.handlers)
        current = current.parent if current.propagate else None
    if len(handlers) != 1:
        return None
    handler = handlers[0]
    if (
        type(handler) is not logging.StreamHandler
        or handler.filters
        or not isinstance(handler.formatter, JsonFormatter)
    ):
        return None
    return handler


class AccessLog:
    """Writes the access line of each request; owned by the app (`keys.ACCESS_LOG`)."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._logger = logger or logging.getLogger(LOGGER)
        self._handler = _sole_json_handler(self._logger)
        self._pending: list[str] = []
        # `ts` up to the second, for the second it was made in: one strftime a second.
        self._second = -1
        self._second_stamp = ""

    def _timestamp(self) -> str:
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second, self._second_stamp = second, seconds_stamp(second)
        return self._second_stamp + f".{int((now - second) * 1000):03d}Z"

    def record(self, fields: dict[str, Any]) -> None:
        """Log one request; call on the event loop, while the request's context is set."""
        logger = self._logger
        if logger.disabled or not logger.isEnabledFor(logging.INFO):
            return
        handler = self._handler
        if handler is None or handler.level > logging.INFO:
            logger.info("request", extra={"fields": fields})
            return
        formatter = handler.formatter
        assert isinstance(formatter, JsonFormatter)
        entry = json_line(self._timestamp(), logging.INFO, logger.name, "request", fields)
        self._pending.append(encode(entry, logging.INFO, journald=formatter.journald))
        if len(self._pending) == 1:
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        """Write the pending lines (once per loop iteration, and at shutdown)."""
        handler = self._handler
        if not self._pending or handler is None:
            return
        text = "\n".join(self._pending) + "\n"
        self._pending.clear()
        handler.acquire()
        try:
            handler.stream.write(text)
            handler.stream.flush()
        except (OSError, ValueError):
            # stdout gone (journald restarted, pipe closed): like logging, never fail a
            # request over its log line.
            pass
        finally:
            handler.release()
