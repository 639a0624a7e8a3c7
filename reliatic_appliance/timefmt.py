"""Timestamps as the API writes them (SPEC §3): ISO 8601, UTC, with `Z`.

Stored timestamps use one fixed-width form (microseconds) so that text order in SQLite is
time order and `updated_since` can compare strings on an index.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment if moment.tzinfo is UTC else moment.astimezone(UTC)


# %-formatting, not strftime or an f-string: these run on every request (the envelope's
# `meta.timestamp`, every write's stamps), and it is twice as fast as either (issue 16).
def format_ts(moment: datetime) -> str:
    """`2026-04-01T12:00:00.000000Z` from an aware datetime (naive means UTC)."""
    m = _utc(moment)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ" % (  # noqa: UP031  (speed: see above)
        m.year, m.month, m.day, m.hour, m.minute, m.second, m.microsecond,
    )  # fmt: skip


def now_ts() -> str:
    return format_ts(utc_now())


def format_meta_ts(moment: datetime) -> str:
    """Seconds precision for the envelope's `meta.timestamp` (`2026-04-01T12:00:00Z`)."""
    m = _utc(moment)
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (  # noqa: UP031  (speed: see format_ts)
        m.year, m.month, m.day, m.hour, m.minute, m.second,
    )  # fmt: skip
