"""Versioned schema migrations, applied at start (SPEC §8).

Migrations are SQL files `NNNN_name.sql` under `migrations/<kind>/`, where kind is
`control` (control.db) or `tenant` (each tenant file). Each runs in its own transaction
that also records its version, so a crash leaves a file at one version or the next.
A file newer than this code (a downgrade) is refused rather than guessed at.

A migration whose first line is `-- reliatic: foreign_keys off` rebuilds a table that
others reference (SQLite's procedure for changes ALTER TABLE cannot make): it runs with
foreign keys off, as that procedure requires (the pragma is a no-op inside a transaction,
so it is set around it), and `PRAGMA foreign_key_check` must find nothing before it commits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

import apsw

from reliatic_appliance.storage.sqlite import transaction
from reliatic_appliance.timefmt import now_ts

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
FOREIGN_KEYS_OFF = "-- reliatic: foreign_keys off"


class SchemaTooNew(Exception):
    """The file was written by a newer release than this one."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def foreign_keys_off(self) -> bool:
        return self.sql.startswith(FOREIGN_KEYS_OFF + "\n")


def load_migrations(kind: str) -> list[Migration]:
    folder = resources.files("reliatic_appliance.storage") / "migrations" / kind
    found = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"{kind} migrations are not numbered 1..n: {versions}")
    return found


def current_version(conn: apsw.Connection) -> int:
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row["user_version"]) if row else 0


def apply_migrations(conn: apsw.Connection, kind: str, *, upto: int | None = None) -> int:
    """Bring the file to the newest version (or to version `upto`, as an older release
    left it: for tests of a migration); return how many migrations ran."""
    migrations = load_migrations(kind)[:upto]
    have = current_version(conn)
    if have > len(migrations):
        raise SchemaTooNew(
            f"database is at schema version {have}, this release knows {len(migrations)}"
        )
    ran = 0
    for migration in migrations[have:]:
        if migration.foreign_keys_off:
            conn.execute("PRAGMA foreign_keys = OFF")
        try:
            apply_one(conn, migration)
        finally:
            if migration.foreign_keys_off:
                conn.execute("PRAGMA foreign_keys = ON")
        ran += 1
    return ran


def apply_one(conn: apsw.Connection, migration: Migration) -> None:
    """One migration and its version, in one transaction (foreign keys as the caller set)."""
    with transaction(conn):
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        conn.execute(migration.sql)
        if migration.foreign_keys_off:
            broken = conn.execute("PRAGMA foreign_key_check").fetchone()
            if broken is not None:
                raise RuntimeError(
                    f"migration {migration.version} ({migration.name}) would leave a row of"
                    f" {broken['table']} pointing at no row of {broken['parent']}"
                )
        conn.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
            (migration.version, migration.name, now_ts()),
        )
        # PRAGMA takes no parameters; the value is an int from a file name pattern.
        conn.execute(f"PRAGMA user_version = {int(migration.version)}")
