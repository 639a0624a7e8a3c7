"""SQL of the Idempotency-Key records (SPEC §3), table `idempotency_keys` of the tenant file.

A record moves `in_progress` (claimed, the work not yet committed) → `applied` (written in
the same transaction as the work, so it commits or rolls back with it) → `done` (the
response is stored and is replayed). The HTTP side is `api/idempotency.py`.
"""

from __future__ import annotations

import apsw

from reliatic_appliance.ports import DONE, Row
from reliatic_appliance.storage.sqlite import scalar


class SqliteIdempotency:
    """SQLite: Idempotency-Key records of one tenant (SPEC §3)."""

    def __init__(self, conn: apsw.Connection) -> None:
        self._conn = conn

    def get(self, principal: str, key: str) -> Row | None:
        row = self._conn.execute(
            "SELECT principal, idem_key, method, path, request_hash, state, status, headers,"
            " body, created_at FROM idempotency_keys WHERE principal = ? AND idem_key = ?",
            (principal, key),
        ).fetchone()
        return dict(row) if row is not None else None

    def claim(
        self,
        *,
        principal: str,
        key: str,
        method: str,
        path: str,
        request_hash: bytes,
        created_at: str,
        state: str,
    ) -> None:
        """Start (or restart, for an expired or abandoned record) the record of one request."""
        self._conn.execute(
            "INSERT INTO idempotency_keys (principal, idem_key, method, path, request_hash, state,"
            " status, headers, body, created_at) VALUES (?, ?, ?, ?, ?, ?, NULL, NULL, NULL, ?)"
            " ON CONFLICT (principal, idem_key) DO UPDATE SET method = excluded.method,"
            " path = excluded.path, request_hash = excluded.request_hash, state = excluded.state,"
            " status = NULL, headers = NULL, body = NULL, created_at = excluded.created_at",
            (principal, key, method, path, request_hash, state, created_at),
        )

    def store_response(
        self, principal: str, key: str, *, status: int, headers: str, body: bytes
    ) -> None:
        """The record's response, for replays: after `claim`, or alone for a request whose
        answer needed no write of this tenant (a refusal, a key minted in control.db)."""
        self._conn.execute(
            "UPDATE idempotency_keys SET state = ?, status = ?, headers = ?, body = ?"
            " WHERE principal = ? AND idem_key = ?",
            (DONE, status, headers, body, principal, key),
        )

    def purge_before(self, cutoff: str) -> int:
        """Delete records created before `cutoff`; return how many went."""
        self._conn.execute("DELETE FROM idempotency_keys WHERE created_at < ?", (cutoff,))
        return int(self._conn.changes())

    def count(self) -> int:
        return int(scalar(self._conn, "SELECT COUNT(*) FROM idempotency_keys"))
