"""PostgreSQL: the Idempotency-Key records (SPEC §3), as `storage/idempotency.py` on SQLite.

One table for every node, so a key claimed through one node replays through any other. A
record moves `in_progress` -> `applied` (in the work's own transaction) -> `done` (the
response stored). Writes of a tenant are serialised by its advisory lock (database.py), so
the read-then-write of `services/idempotency.py` holds across nodes as it does on SQLite.
"""

from __future__ import annotations

import psycopg

from reliatic_appliance.ports import DONE, Row

_COLUMNS = (
    "principal, idem_key, method, path, request_hash, state, status, headers, body, created_at"
)


class PgIdempotency:
    """PostgreSQL: Idempotency-Key records of one tenant (SPEC §3)."""

    def __init__(self, cur: psycopg.Cursor[Row], tenant_id: str) -> None:
        self._cur = cur
        self._tenant = tenant_id

    def get(self, principal: str, key: str) -> Row | None:
        return self._cur.execute(
            f"SELECT {_COLUMNS} FROM idempotency_keys"
            " WHERE tenant_id = %s AND principal = %s AND idem_key = %s",
            (self._tenant, principal, key),
        ).fetchone()

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
        self._cur.execute(
            "INSERT INTO idempotency_keys (tenant_id, principal, idem_key, method, path,"
            " request_hash, state, status, headers, body, created_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, NULL, NULL, NULL, %s)"
            " ON CONFLICT (tenant_id, principal, idem_key) DO UPDATE SET method = excluded.method,"
            " path = excluded.path, request_hash = excluded.request_hash, state = excluded.state,"
            " status = NULL, headers = NULL, body = NULL, created_at = excluded.created_at",
            (self._tenant, principal, key, method, path, request_hash, state, created_at),
        )

    def store_response(
        self, principal: str, key: str, *, status: int, headers: str, body: bytes
    ) -> None:
        """The record's response, for replays (see `storage/idempotency.py`)."""
        self._cur.execute(
            "UPDATE idempotency_keys SET state = %s, status = %s, headers = %s, body = %s"
            " WHERE tenant_id = %s AND principal = %s AND idem_key = %s",
            (DONE, status, headers, body, self._tenant, principal, key),
        )

    def purge_before(self, cutoff: str) -> int:
        """Delete records created before `cutoff`; return how many went."""
        self._cur.execute(
            "DELETE FROM idempotency_keys WHERE tenant_id = %s AND created_at < %s",
            (self._tenant, cutoff),
        )
        return int(self._cur.rowcount)

    def count(self) -> int:
        row = self._cur.execute(
            "SELECT count(*) AS n FROM idempotency_keys WHERE tenant_id = %s", (self._tenant,)
        ).fetchone()
        return 0 if row is None else int(row["n"])
