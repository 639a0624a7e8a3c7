"""How values come back from PostgreSQL: the same strings the SQLite backend returns.

The services write instants as `timefmt.format_ts` text (`2026-04-01T12:00:00.000000Z`) and
compare, sort and return them as text; SQLite stores that text as it is. On PostgreSQL an
instant is a `timestamptz` (real time arithmetic, an index that orders by time), and the
loaders below turn it back into exactly that text, so a row read from either backend is the
same dict. Calendar dates (`date`) come back as `YYYY-MM-DD`. Parameters go the other way
untyped: a `str` is sent as `unknown`, so `WHERE updated_at >= %s` with the text works.

`configure` runs once on every pooled connection: UTC and ISO output (which the fast text
path relies on), autocommit (the database modules issue BEGIN/COMMIT themselves) and the
loaders.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.adapt import Buffer, Loader
from psycopg.types.datetime import (
    DateBinaryLoader,
    TimestamptzBinaryLoader,
    TimestamptzLoader,
)

from reliatic_appliance.timefmt import format_ts

# With TimeZone UTC and DateStyle ISO a timestamptz is printed `YYYY-MM-DD HH:MM:SS[.ffffff]+00`.
_UTC_SUFFIX = "+00"


class InstantLoader(Loader):
    """timestamptz (text) -> `format_ts` text, without building a datetime on the way."""

    def __init__(self, oid: int, context: Any = None) -> None:
        super().__init__(oid, context)
        self._slow = TimestamptzLoader(oid, context)

    def load(self, data: Buffer) -> str:
        text = bytes(data).decode("ascii")
        if len(text) >= 22 and text[10] == " " and text.endswith(_UTC_SUFFIX):
            body = text[:-3]
            fraction = body[20:] if len(body) > 19 else ""
            return f"{body[:10]}T{body[11:19]}.{fraction.ljust(6, '0')}Z"
        # Another form (a year past 9999, a session whose time zone was changed): the
        # library's own parser, then the one text form.
        return format_ts(self._slow.load(data))


class InstantBinaryLoader(TimestamptzBinaryLoader):
    def load(self, data: Buffer) -> str:  # type: ignore[override]  # text, on purpose (module doc)
        return format_ts(super().load(data))


class DateTextLoader(Loader):
    """date (text, ISO style) -> `YYYY-MM-DD`, as SQLite stores it."""

    def load(self, data: Buffer) -> str:
        return bytes(data).decode("ascii")


class DateIsoBinaryLoader(DateBinaryLoader):
    def load(self, data: Buffer) -> str:  # type: ignore[override]  # text, on purpose (module doc)
        return super().load(data).isoformat()


def register(context: psycopg.Connection[Any]) -> None:
    """Install the loaders on one connection (its cursors inherit them)."""
    adapters = context.adapters
    adapters.register_loader("timestamptz", InstantLoader)
    adapters.register_loader("timestamptz", InstantBinaryLoader)
    adapters.register_loader("date", DateTextLoader)
    adapters.register_loader("date", DateIsoBinaryLoader)


def configure(conn: psycopg.Connection[Any]) -> None:
    """Prepare a new pooled connection (psycopg_pool's `configure` hook)."""
    conn.autocommit = True
    conn.execute("SET TIME ZONE 'UTC'")
    conn.execute("SET DateStyle = 'ISO, YMD'")
    register(conn)
