"""A throwaway PostgreSQL cluster for the `storage copy` tests, and a stand-in target schema
derived from the SQLite migrations (the same shape the PostgreSQL migrations follow: tenant_id
leading every key, identity ids, timestamptz, date, bytea, RLS forced) for as long as the
backend's own migrations are not on this branch."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import apsw

PG_BIN = Path("/usr/lib/postgresql/15/bin")
OWNER = "reliatic_owner"
SERVER = "reliatic_server"


def _as_postgres(*args: str) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else list(args)


@contextmanager
def cluster(port: int) -> Iterator[str]:
    """initdb + start in a temp dir; yields the socket directory."""
    root = Path(tempfile.mkdtemp(prefix="pgcopy-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    try:
        subprocess.run(
            _as_postgres(
                str(PG_BIN / "initdb"), "-D", str(root / "db"), "-A", "trust", "-U", "postgres"
            ),
            check=True,
            capture_output=True,
        )
        subprocess.run(
            _as_postgres(
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(root / "db"),
                "-w",
                "-l",
                str(root / "log"),
                "-o",
                f"-p {port} -k {root} -c listen_addresses='' -c fsync=off",
                "start",
            ),
            check=True,
            capture_output=True,
        )
        yield str(root)
    finally:
        subprocess.run(
            _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(root / "db"), "-m", "immediate", "stop"),
            check=False,
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


def dsn(socket_dir: str, port: int, dbname: str, user: str = "postgres") -> str:
    return f"host={socket_dir} port={port} dbname={dbname} user={user}"


_INSTANT = {"at"}
_DATES = {"next_inspection_due"}
_JSON = {("events", "data")}
_FLAGS = {("webhooks", "enabled")}


def _pg_type(table: str, column: str, declared: str) -> str:
    declared = declared.upper()
    if declared == "TEXT" and (column.endswith("_at") or column in _INSTANT):
        return "timestamptz"
    if declared == "TEXT" and (column.endswith("_date") or column in _DATES):
        return "date"
    if (table, column) in _JSON:
        return "jsonb"
    if (table, column) in _FLAGS:
        return "boolean"
    return {"INTEGER": "bigint", "REAL": "double precision", "BLOB": "bytea"}.get(declared, "text")


def schema_sql(control_db: Path, tenant_db: Path) -> list[str]:
    """CREATE TABLE statements for every table of control.db and of a tenant file."""
    from reliatic_appliance.storage.postgresql.copy import DROPPED_COLUMNS, RENAMED, SKIPPED_TABLES

    out: list[str] = []
    for kind, path in (("control", control_db), ("tenant", tenant_db)):
        conn = apsw.Connection(str(path), flags=apsw.SQLITE_OPEN_READONLY)
        try:
            names = [
                r[0] for r in conn.execute("SELECT name FROM sqlite_schema WHERE type='table'")
            ]
            for table in names:
                if table in SKIPPED_TABLES:
                    continue
                target = RENAMED.get((kind, table), table)
                info = list(conn.execute(f'PRAGMA table_info("{table}")'))
                sql_text = conn.execute(
                    "SELECT sql FROM sqlite_schema WHERE name = ?", (table,)
                ).fetchone()
                autoinc = "AUTOINCREMENT" in (sql_text[0] if sql_text else "")
                cols: list[str] = []
                pk: list[str] = []
                per_tenant = kind == "tenant"
                if per_tenant:
                    cols.append("tenant_id text NOT NULL")
                for _cid, name, declared, notnull, _default, is_pk in info:
                    if (kind, table, name) in DROPPED_COLUMNS:
                        continue
                    kind_sql = _pg_type(table, name, declared)
                    extra = " NOT NULL" if notnull or is_pk else ""
                    if is_pk and autoinc:
                        extra = " GENERATED ALWAYS AS IDENTITY"
                    cols.append(f"{name} {kind_sql}{extra}")
                    if is_pk:
                        pk.append(name)
                keys = (["tenant_id"] if per_tenant else []) + pk
                if keys:
                    cols.append(f"PRIMARY KEY ({', '.join(keys)})")
                if per_tenant:
                    for fk in conn.execute(f'PRAGMA foreign_key_list("{table}")'):
                        cols.append(
                            f"FOREIGN KEY (tenant_id, {fk[3]}) REFERENCES {fk[2]} (tenant_id, {fk[4]})"
                        )
                out.append(f"CREATE TABLE {target} (\n  " + ",\n  ".join(cols) + "\n)")
                if per_tenant:
                    out += [
                        f"ALTER TABLE {target} ENABLE ROW LEVEL SECURITY",
                        f"ALTER TABLE {target} FORCE ROW LEVEL SECURITY",
                        f"CREATE POLICY tenant_isolation ON {target}"
                        " USING (tenant_id = current_setting('app.tenant_id', true))"
                        " WITH CHECK (tenant_id = current_setting('app.tenant_id', true))",
                    ]
                out.append(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {target} TO {SERVER}")
        finally:
            conn.close()
    # The target keeps asset_counts itself, as SQLite's triggers do: the copy must see the
    # rows the trigger made and verify them instead of copying them twice.
    out.append(
        """CREATE FUNCTION asset_counts_insert() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO asset_counts (tenant_id, status, asset_type, n)
                VALUES (NEW.tenant_id, NEW.status, NEW.asset_type, 1)
                ON CONFLICT (tenant_id, status, asset_type) DO UPDATE SET n = asset_counts.n + 1;
            RETURN NULL;
        END $$"""
    )
    out.append(
        "CREATE TRIGGER asset_counts_insert AFTER INSERT ON assets"
        " FOR EACH ROW EXECUTE FUNCTION asset_counts_insert()"
    )
    out.append("CREATE TABLE schema_migrations (version integer PRIMARY KEY)")
    out.append("INSERT INTO schema_migrations VALUES (1)")
    return out


def make_target(admin_dsn: str, dbname: str, control_db: Path, tenant_db: Path) -> None:
    """A new database owned by a plain (not super) owner role, with the stand-in schema."""
    import psycopg

    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {dbname}")
        for role, login in ((OWNER, "LOGIN"), (SERVER, "NOLOGIN")):
            if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
                conn.execute(f"CREATE ROLE {role} {login}")
    with psycopg.connect(retarget(admin_dsn, dbname), autocommit=True) as conn:
        conn.execute(f"ALTER SCHEMA public OWNER TO {OWNER}")
    with psycopg.connect(retarget(admin_dsn, dbname, OWNER), autocommit=True) as conn:
        for statement in schema_sql(control_db, tenant_db):
            conn.execute(statement)


def retarget(conninfo: str, dbname: str, user: str | None = None) -> str:
    out = conninfo.replace("dbname=postgres", f"dbname={dbname}")
    return out.replace("user=postgres", f"user={user}") if user else out


def rows(conninfo: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(conninfo) as conn:
        return list(conn.execute(query, params).fetchall())
