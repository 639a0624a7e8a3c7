"""SQL for the audit log (SPEC §5): one hash chain per tenant in control.db (rows keyed by
tenant_id) and one in each tenant's own file. The chain rules are in domain/audit_chain.py."""

from __future__ import annotations

import apsw

from reliatic_appliance.ports import AuditFilter, Row
from reliatic_appliance.storage import listing

_COLUMNS = "seq, id, at, actor, address, action, target_type, target_id, changes, prev_hash, hash"


class SqliteAudit:
    """SQLite: one tenant's audit chain. `tenant_id` is set for the chain in control.db (the
    table there holds every tenant's) and None in the tenant's own file."""

    def __init__(self, conn: apsw.Connection, tenant_id: str | None = None) -> None:
        self._conn = conn
        self._tenant_id = tenant_id

    def _scope(self) -> listing.Condition | None:
        return listing.equals("tenant_id", self._tenant_id)

    def head(self) -> tuple[int, str] | None:
        if self._tenant_id is None:
            row = self._conn.execute("SELECT seq, hash FROM audit_head").fetchone()
        else:
            row = self._conn.execute(
                "SELECT seq, hash FROM audit_head WHERE tenant_id = ?", (self._tenant_id,)
            ).fetchone()
        return None if row is None else (int(row["seq"]), str(row["hash"]))

    def append(self, entry: Row) -> None:
        values = {**entry, "tenant_id": self._tenant_id}
        if self._tenant_id is None:
            self._conn.execute(
                f"INSERT INTO audit_log ({_COLUMNS}) VALUES (:seq, :id, :at, :actor, :address,"
                " :action, :target_type, :target_id, :changes, :prev_hash, :hash)",
                values,
            )
            self._conn.execute(
                "INSERT INTO audit_head (only_row, seq, hash) VALUES (1, :seq, :hash)"
                " ON CONFLICT (only_row) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
                values,
            )
            return
        self._conn.execute(
            f"INSERT INTO audit_log (tenant_id, {_COLUMNS}) VALUES (:tenant_id, :seq, :id, :at,"
            " :actor, :address, :action, :target_type, :target_id, :changes, :prev_hash, :hash)",
            values,
        )
        self._conn.execute(
            "INSERT INTO audit_head (tenant_id, seq, hash) VALUES (:tenant_id, :seq, :hash)"
            " ON CONFLICT (tenant_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
            values,
        )

    def list_entries(
        self, flt: AuditFilter, *, newest_first: bool, limit: int
    ) -> tuple[list[Row], int]:
        conditions = [
            self._scope(),
            listing.equals("actor", flt.actor),
            listing.equals("action", flt.action),
            listing.at_least("at", flt.updated_since),
        ]
        clause, params = listing.where(conditions)
        direction = "DESC" if newest_first else "ASC"
        rows = list(
            self._conn.execute(
                f"SELECT {_COLUMNS} FROM audit_log{clause}"
                f" ORDER BY at {direction}, seq {direction} LIMIT ?",
                (*params, limit),
            )
        )
        return rows, listing.count(self._conn, "audit_log", conditions)

    def chain(self, *, after_seq: int, limit: int) -> list[Row]:
        clause, params = listing.where([self._scope(), listing.Condition("seq > ?", (after_seq,))])
        return list(
            self._conn.execute(
                f"SELECT {_COLUMNS} FROM audit_log{clause} ORDER BY seq LIMIT ?", (*params, limit)
            )
        )
