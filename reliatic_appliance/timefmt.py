"""Timestamps as the API writes them (SPEC §3): ISO 8601, UTC, with `Z`.

Stored timestamps use one fixed-width form (microseconds) so that text order in SQLite is
time order and `updated_since` can compare strings on an index.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_ts(moment: datetime) -> str:
    """`2026-04-01T12:00:00.000000Z` from an aware datetime (naive means UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    elif moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    # An f-string, not strftime: this runs several times per request and is 5x cheaper.
    m = moment
    return (
        f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}"
        f".{m.microsecond:06d}Z"
    )


def now_ts() -> str:
    return format_ts(utc_now())


def format_meta_ts(moment: datetime) -> str:
    """Seconds precision for the envelope's `meta.timestamp` (`2026-04-01T12:00:00Z`)."""
    return format_ts(moment)[:19] + "Z"
