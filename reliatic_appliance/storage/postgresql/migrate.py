"""Versioned schema migrations for PostgreSQL, applied at start (SPEC §11).

Migrations are `migrations/NNNN_name.sql`, numbered 1..n without gaps: one schema for every
tenant (not one per file as on SQLite). They run as the role of `[storage] admin_dsn`, which
owns the tables; the server's role (`dsn`) only gets DML through `reliatic_server`.

The whole run holds `pg_advisory_lock` on one key, so nodes starting together take turns: the
first applies what is missing, the others then find nothing to do. Each migration runs in its
own transaction with the row that records it in `schema_migrations`, so a crash leaves the
schema at one version or the next. A database newer than this code is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

import psycopg

from reliatic_appliance.storage.postgresql.database import MIGRATION_LOCK

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class SchemaTooNew(Exception):
    """The database was migrated by a newer release than this one."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations() -> list[Migration]:
    folder = resources.files("reliatic_appliance.storage.postgresql") / "migrations"
    found = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"postgresql migrations are not numbered 1..n: {versions}")
    return found


def current_version(conn: psycopg.Connection[object]) -> int:
    row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
    return int(row[0]) if row else 0  # type: ignore[index]  # a tuple row: no row factory


def apply_migrations(admin_dsn: str, *, lock_timeout_s: float = 300.0) -> int:
    """Bring the database to the newest schema; return how many migrations ran.

    Blocking; a node waits up to `lock_timeout_s` for another node's run to finish.
    """
    migrations = load_migrations()
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(
            "SELECT set_config('lock_timeout', %s, false)", (f"{int(lock_timeout_s * 1000)}ms",)
        )
        conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (MIGRATION_LOCK,))
        try:
            conn.execute("SELECT set_config('lock_timeout', '0', false)")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            have = current_version(conn)
            if have > len(migrations):
                raise SchemaTooNew(
                    f"database is at schema version {have}, this release knows {len(migrations)}"
                )
            ran = 0
            for migration in migrations[have:]:
                with conn.transaction():
                    # No parameters: psycopg sends the file as one simple query, so a
                    # migration may hold many statements (and DO blocks).
                    conn.execute(migration.sql.encode())
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                        (migration.version, migration.name),
                    )
                ran += 1
            return ran
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (MIGRATION_LOCK,))
