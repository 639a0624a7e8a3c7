"""SQL of the Idempotency-Key records (SPEC §3), table `idempotency_keys` of the tenant file.

A record moves `in_progress` (claimed, the work not yet committed) → `applied` (written in
the same transaction as the work, so it commits or rolls back with it) → `done` (the
response is stored and is replayed). The HTTP side is `api/idempotency.py`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import apsw

from reliatic_appliance.storage.sqlite import scalar

Row = dict[str, Any]

# SPEC §3: "the same key with the same body within 24 h returns the first response".
RETENTION = timedelta(hours=24)

IN_PROGRESS = "in_progress"
APPLIED = "applied"
DONE = "done"


def get(conn: apsw.Connection, principal: str, key: str) -> Row | None:
    row = conn.execute(
        "SELECT principal, idem_key, method, path, request_hash, state, status, headers,"
        " body, created_at FROM idempotency_keys WHERE principal = ? AND idem_key = ?",
        (principal, key),
    ).fetchone()
    return dict(row) if row is not None else None


def claim(
    conn: apsw.Connection,
    *,
    principal: str,
    key: str,
    method: str,
    path: str,
    request_hash: bytes,
    created_at: str,
) -> None:
    """Start (or restart, for an expired or abandoned record) the record of one request."""
    conn.execute(
        "INSERT INTO idempotency_keys (principal, idem_key, method, path, request_hash, state,"
        " status, headers, body, created_at) VALUES (?, ?, ?, ?, ?, ?, NULL, NULL, NULL, ?)"
        " ON CONFLICT (principal, idem_key) DO UPDATE SET method = excluded.method,"
        " path = excluded.path, request_hash = excluded.request_hash, state = excluded.state,"
        " status = NULL, headers = NULL, body = NULL, created_at = excluded.created_at",
        (principal, key, method, path, request_hash, IN_PROGRESS, created_at),
    )


def mark_applied(conn: apsw.Connection, principal: str, key: str) -> None:
    """Run inside the work's own transaction: the work and this mark commit together."""
    conn.execute(
        "UPDATE idempotency_keys SET state = ? WHERE principal = ? AND idem_key = ? AND state = ?",
        (APPLIED, principal, key, IN_PROGRESS),
    )


def store_response(
    conn: apsw.Connection, principal: str, key: str, *, status: int, headers: str, body: bytes
) -> None:
    conn.execute(
        "UPDATE idempotency_keys SET state = ?, status = ?, headers = ?, body = ?"
        " WHERE principal = ? AND idem_key = ?",
        (DONE, status, headers, body, principal, key),
    )


def forget(conn: apsw.Connection, principal: str, key: str) -> None:
    """Drop a record whose request did nothing (a 5xx before any commit): retry may redo."""
    conn.execute(
        "DELETE FROM idempotency_keys WHERE principal = ? AND idem_key = ? AND state = ?",
        (principal, key, IN_PROGRESS),
    )


def purge_before(conn: apsw.Connection, cutoff: str) -> int:
    """Delete records created before `cutoff`; return how many went."""
    conn.execute("DELETE FROM idempotency_keys WHERE created_at < ?", (cutoff,))
    return int(conn.changes())


def count(conn: apsw.Connection) -> int:
    return int(scalar(conn, "SELECT COUNT(*) FROM idempotency_keys"))
