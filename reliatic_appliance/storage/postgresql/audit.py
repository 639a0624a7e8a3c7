"""SQL for the audit log on PostgreSQL (SPEC §5, storage/audit.py's port): one hash chain per
tenant for acts on control data (`control_audit_log`, a control table) and one for acts on
the tenant's own data (`audit_log`, a tenant table under row security). The chain rules are
in domain/audit_chain.py."""

from __future__ import annotations

from typing import Any

from psycopg import sql

from reliatic_appliance.ports import AuditFilter, Row
from reliatic_appliance.storage.postgresql.database import Cursor

_COLUMNS = "seq, id, at, actor, address, action, target_type, target_id, changes, prev_hash, hash"
_INSERT = (
    "INSERT INTO {log} (tenant_id, seq, id, at, actor, address, action, target_type, target_id,"
    " changes, prev_hash, hash) VALUES (%(tenant_id)s, %(seq)s, %(id)s, %(at)s, %(actor)s,"
    " %(address)s, %(action)s, %(target_type)s, %(target_id)s, %(changes)s, %(prev_hash)s,"
    " %(hash)s)"
)
_UPSERT_HEAD = (
    "INSERT INTO {head} (tenant_id, seq, hash) VALUES (%(tenant_id)s, %(seq)s, %(hash)s)"
    " ON CONFLICT (tenant_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash"
)


class PgAudit:
    """PostgreSQL: one tenant's audit chain, in the control tables (`control=True`, the
    chain of `ControlTx.audit(tenant_id)`) or in the tenant's own (`TenantTx.audit`)."""

    def __init__(self, cur: Cursor, tenant_id: str, *, control: bool = False) -> None:
        self._cur = cur
        self._tenant_id = tenant_id
        prefix = "control_" if control else ""
        self._log = sql.Identifier(f"{prefix}audit_log")
        self._head = sql.Identifier(f"{prefix}audit_head")

    def head(self) -> tuple[int, str] | None:
        row = self._cur.execute(
            sql.SQL("SELECT seq, hash FROM {} WHERE tenant_id = %s").format(self._head),
            (self._tenant_id,),
        ).fetchone()
        return None if row is None else (int(row["seq"]), str(row["hash"]))

    def append(self, entry: Row) -> None:
        values = {**entry, "tenant_id": self._tenant_id}
        self._cur.execute(sql.SQL(_INSERT).format(log=self._log), values)
        self._cur.execute(sql.SQL(_UPSERT_HEAD).format(head=self._head), values)

    def _where(self, flt: AuditFilter | None = None) -> tuple[sql.Composable, list[Any]]:
        parts: list[sql.Composable] = [sql.SQL("tenant_id = %s")]
        params: list[Any] = [self._tenant_id]
        if flt is not None:
            for column, value, op in (
                ("actor", flt.actor, "="),
                ("action", flt.action, "="),
                ("at", flt.updated_since, ">="),
            ):
                if value is not None:
                    parts.append(sql.SQL("{} " + op + " %s").format(sql.Identifier(column)))
                    params.append(value)
        return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(parts), params

    def list_entries(
        self, flt: AuditFilter, *, newest_first: bool, limit: int
    ) -> tuple[list[Row], int]:
        where, params = self._where(flt)
        direction = sql.SQL("DESC" if newest_first else "ASC")
        rows = self._cur.execute(
            sql.SQL("SELECT {} FROM {}{} ORDER BY at {}, seq {} LIMIT %s").format(
                sql.SQL(_COLUMNS), self._log, where, direction, direction
            ),
            (*params, limit),
        ).fetchall()
        counted = self._cur.execute(
            sql.SQL("SELECT count(*) AS n FROM {}{}").format(self._log, where), params
        ).fetchone()
        assert counted is not None
        return rows, int(counted["n"])

    def chain(self, *, after_seq: int, limit: int) -> list[Row]:
        return self._cur.execute(
            sql.SQL(
                "SELECT {} FROM {} WHERE tenant_id = %s AND seq > %s ORDER BY seq LIMIT %s"
            ).format(sql.SQL(_COLUMNS), self._log),
            (self._tenant_id, after_seq, limit),
        ).fetchall()
