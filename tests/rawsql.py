"""Raw SQL on either backend, for tests that look under the API (a digest stored instead of a
key, a row that must be gone). Written with SQLite's `?` placeholders; on PostgreSQL they
become `%s` and the query runs in a read transaction of the same database object the server
uses (its tenant set, for a tenant's database)."""

from __future__ import annotations

from typing import Any

Row = dict[str, Any]

# Tables whose name differs: on PostgreSQL one schema holds the control data and every
# tenant's, so the control chain of the audit log has a name of its own.
_POSTGRESQL_CONTROL_NAMES = {"audit_log": "control_audit_log", "audit_head": "control_audit_head"}


def on_postgresql(db: Any) -> bool:
    return not hasattr(db, "read_now")


def control_table(db: Any, name: str) -> str:
    """`name` of a control table as the backend of `db` spells it."""
    return _POSTGRESQL_CONTROL_NAMES.get(name, name) if on_postgresql(db) else name


async def rows(db: Any, sql: str, params: tuple[Any, ...] = ()) -> list[Row]:
    if not on_postgresql(db):
        return list(db.read_now(lambda tx: list(tx.conn.execute(sql, params))))
    pg_sql = sql.replace("?", "%s")
    return list(await db.read(lambda tx: tx.cur.execute(pg_sql, params).fetchall()))


async def row(db: Any, sql: str, params: tuple[Any, ...] = ()) -> Row | None:
    found = await rows(db, sql, params)
    return found[0] if found else None


async def execute(db: Any, sql: str, params: tuple[Any, ...] = ()) -> None:
    """A write (INSERT, UPDATE) in one write transaction of `db`, as `rows` reads."""
    postgresql = on_postgresql(db)

    def write(tx: Any) -> None:
        if postgresql:
            tx.cur.execute(sql.replace("?", "%s"), params)
        else:
            tx.conn.execute(sql, params)

    await db.write(write)


async def insert(db: Any, table: str, row: Row, *, tenant_id: str) -> None:
    """One row straight into a tenant table of `db` (`table` and the keys are the test's
    literals): on PostgreSQL the row also names its tenant, which a tenant file leaves out."""
    if on_postgresql(db):
        row = {"tenant_id": tenant_id, **row}
    sql = f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})"
    await execute(db, sql, tuple(row.values()))
