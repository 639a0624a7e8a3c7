"""JSON-lines logging on stdout (SPEC §8): one object per line, journald-friendly.

The request id, tenant and key id of the request being served travel in contextvars so
every line logged while serving it carries them. Nothing here ever formats a request's
headers, query string or body: keys, secrets and passwords can only reach a log line if
code puts them in a message, and `redact` guards the known shapes of those too.
"""

from __future__ import annotations

import contextvars
import logging
import os
import re
import sys
import time
from typing import Any, TextIO

import pydantic_core


class RequestContext:
    """What every log line written while serving a request names: the request, and once
    it is authenticated, its tenant and key. One object in one context variable, filled in
    as the request goes (one set and one reset per request, not three)."""

    __slots__ = ("key_id", "request_id", "tenant")

    def __init__(self, request_id: str) -> None:
        self.request_id = request_id
        self.tenant: str | None = None
        self.key_id: str | None = None


request_context: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar(
    "request_context", default=None
)

# API keys, webhook secrets and bearer tokens, whatever message they end up in.
_SECRET_PATTERNS = re.compile(
    r"(rl_live_[A-Za-z0-9_\-]+|whsec_[A-Za-z0-9+/=]+|Bearer\s+\S+)", re.IGNORECASE
)

# journald reads a "<N>" prefix as the syslog priority when stdout is its stream.
_SYSLOG_PRIORITY = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}


# The names `logging` gives the standard levels, lower-cased, without a call per line.
_LEVEL_NAMES = {level: logging.getLevelName(level).lower() for level in _SYSLOG_PRIORITY}


def redact(text: str) -> str:
    """Replace anything shaped like a key, secret or bearer token."""
    if text.isalnum():
        # Every shape above holds a '_' or a space: a bare word (the access log's "request",
        # on every request) holds neither.
        return text
    return _SECRET_PATTERNS.sub("[redacted]", text)


def timestamp(created: float) -> str:
    """A log line's `ts`: UTC, milliseconds, `Z`."""
    return seconds_stamp(int(created)) + f".{int((created % 1) * 1000):03d}Z"


def seconds_stamp(seconds: int) -> str:
    """`2026-04-01T12:00:00`: the part of `ts` that one whole second shares."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def json_line(
    ts: str, level: int, logger: str, message: str, fields: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The object of one log line: time, level, logger, message, the request being served
    (contextvars) and the record's own fields. Every line goes through here."""
    entry: dict[str, Any] = {
        "ts": ts,
        "level": _LEVEL_NAMES.get(level) or logging.getLevelName(level).lower(),
        "logger": logger,
        "msg": redact(message),
    }
    context = request_context.get()
    if context is not None:
        entry["request_id"] = context.request_id
        if context.tenant is not None:
            entry["tenant"] = context.tenant
        if context.key_id is not None:
            entry["key_id"] = context.key_id
    if fields:
        entry.update(fields)
    return entry


def encode(entry: dict[str, Any], level: int, *, journald: bool) -> str:
    # pydantic-core: one access line per request, so the serialiser's speed shows.
    line = pydantic_core.to_json(entry, fallback=str).decode()
    if journald:
        return f"<{_SYSLOG_PRIORITY.get(level, 6)}>{line}"
    return line


class JsonFormatter(logging.Formatter):
    def __init__(self, *, journald: bool = False) -> None:
        super().__init__()
        self.journald = journald

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", None)
        entry = json_line(
            timestamp(record.created),
            record.levelno,
            record.name,
            record.getMessage(),
            fields if isinstance(fields, dict) else None,
        )
        if record.exc_info and record.exc_info[0] is not None:
            # The type only: exception text can quote SQL or parameter values.
            entry["exc_type"] = record.exc_info[0].__name__
            if record.levelno >= logging.ERROR:
                entry["traceback"] = redact(self.formatException(record.exc_info))
        return encode(entry, record.levelno, journald=self.journald)


class ClientProtocolErrors(logging.Filter):
    """A client sending malformed HTTP is the client's problem, not a server error: keep
    aiohttp's record of it as a one-line warning without a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and type(exc).__name__ in (
            "BadHttpMessage",
            "BadStatusLine",
            "LineTooLong",
            "InvalidHeader",
            "BadHttpMethod",
            "InvalidURLError",
        ):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg = f"{record.getMessage()}: malformed HTTP ({type(exc).__name__})"
            record.args = None
            record.exc_info = None
        return True


def configure_logging(level: str = "info", stream: TextIO | None = None) -> None:
    """Send every logger's records, as JSON lines, to `stream` (default stdout: journald)."""
    handler = logging.StreamHandler(sys.stdout if stream is None else stream)
    handler.setFormatter(JsonFormatter(journald=bool(os.environ.get("JOURNAL_STREAM"))))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # aiohttp's own access log would duplicate ours, in a format with the query string.
    logging.getLogger("aiohttp.access").disabled = True
    logging.getLogger("aiohttp.server").addFilter(ClientProtocolErrors())
