"""`reliatic storage copy`: a stopped SQLite data dir into an empty PostgreSQL database
(SPEC §11 "Moving up"), then proof that every row arrived.

Generic on purpose: the PostgreSQL schema is read from the target (`information_schema`,
`pg_catalog`), not written down here, so the copier follows the migrations as they change.
Every SQLite table maps to the PostgreSQL table of the same name (or the one `RENAMED`
names); a tenant file's rows gain `tenant_id`; each value is converted by the PostgreSQL
column's type. SQLite-only tables are skipped by a named list (`SKIPPED_TABLES`); any other
table, or column, the target lacks stops the copy before anything is written.

One transaction for the whole copy, verification included: the target is either the verified
copy or untouched. The role is the tables' owner (`[storage] admin_dsn`) or one that bypasses
row security. Not the server's role, for two reasons: PostgreSQL refuses `COPY FROM` into a
table whose row security applies to the copying role (it would have to be row-by-row INSERTs),
and that role may not move the identity sequences on. The owner is subject to row security
too (`FORCE`), so the copy lifts `FORCE` inside its transaction and puts it back before the
verification, which then reads each tenant's rows with `app.tenant_id` set: the policies,
back in force, must show every tenant exactly the rows it had.

The checksum is computed the same way on both sides, per table and tenant: each value as the
server reads it (instants as `format_ts` text through the backend's own loaders, dates
`YYYY-MM-DD`, floats by `repr`, bytes as hex, JSON re-serialised with sorted keys, flags as
0/1), each row SHA-256 over the JSON array of its values, the table SHA-256 over the sorted
row digests. Sorting the digests, not the rows, makes the result independent of the two
engines' orders (SQLite compares text bytewise, PostgreSQL by a collation).

The master key (`secret/`) is not copied: sealed secrets go over as the bytes they are, and
the server that serves them needs the data dir's `secret/master.key`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import apsw
import psycopg
from psycopg import sql
from psycopg.rows import dict_row, tuple_row

from reliatic_appliance.storage.layout import DataDirBusy, hold_data_dir
from reliatic_appliance.storage.migrate import load_migrations
from reliatic_appliance.storage.postgresql import migrate as pg_migrate
from reliatic_appliance.storage.postgresql import types as pg_types
from reliatic_appliance.storage.tenancy import control_file

log = logging.getLogger(__name__)

# SQLite's own bookkeeping (sqlite_sequence is read for the identity high-water marks), each
# file's migration ledger (the target keeps its own), and the FTS5 search index over assets
# (its virtual table and FTS5's shadow tables): the target searches `assets` itself.
SKIPPED_TABLES = frozenset(
    {
        "schema_migrations",
        "sqlite_sequence",
        "sqlite_stat1",
        "sqlite_stat4",
        "asset_search",
        "asset_search_config",
        "asset_search_content",
        "asset_search_data",
        "asset_search_docsize",
        "asset_search_idx",
    }
)
# (kind, SQLite table) -> target table, where the names differ: one database holds both
# audit chains, control.db's and each tenant file's.
RENAMED: dict[tuple[str, str], str] = {
    ("control", "audit_log"): "control_audit_log",
    ("control", "audit_head"): "control_audit_head",
}
# (kind, SQLite table, column) the target has no use for: the tenant audit head's one-row
# guard (`only_row = 1`) is `tenant_id` on PostgreSQL.
DROPPED_COLUMNS = frozenset({("tenant", "audit_head", "only_row")})
# Target-only columns the copy may leave to their default: (table, column).
DEFAULTED_COLUMNS: frozenset[tuple[str, str]] = frozenset()
# Tables both engines keep from other tables by triggers. Copied after everything else of a
# tenant, and only if the target's triggers did not already fill them; verified either way,
# without the rows the predicate names, which mean the same as no row (SQLite's triggers
# leave a count at 0 when the last asset of a kind moves; a fresh count has no such row).
DERIVED_TABLES: dict[str, str] = {"asset_counts": "n = 0"}

TENANT_ID = "tenant_id"
_TENANT_FILE = re.compile(r"^(ten_[0-9A-Z]{26})\.db$")
_INT_TYPES = frozenset({"smallint", "integer", "bigint"})
_FLOAT_TYPES = frozenset({"double precision", "real"})
_JSON_TYPES = frozenset({"json", "jsonb"})
BATCH = 5000

Progress = Callable[[int, int], None]
Convert = Callable[[Any], Any]


class CopyError(Exception):
    """The copy cannot start or go on; the message is one line for the user."""


def _no_progress(done: int, total: int) -> None:
    return None


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str
    has_default: bool
    generated: bool
    identity: bool


@dataclass
class Target:
    """One target table as the catalog describes it."""

    name: str
    columns: dict[str, Column]
    owned: bool
    forced: bool
    depends_on: set[str] = field(default_factory=set)

    @property
    def per_tenant(self) -> bool:
        return TENANT_ID in self.columns


@dataclass(frozen=True)
class Source:
    """One SQLite file: control.db (`tenant_id` None) or a tenant's file."""

    kind: str
    path: Path
    tenant_id: str | None

    @property
    def label(self) -> str:
        return "control.db" if self.tenant_id is None else f"tenants/{self.path.name}"


@dataclass(frozen=True)
class Plan:
    """One source table, its columns, and the target table they go to."""

    source: Source
    table: str
    columns: tuple[str, ...]
    target: Target
    rows: int

    @property
    def target_columns(self) -> tuple[str, ...]:
        extra = (TENANT_ID,) if self.source.tenant_id is not None else ()
        return extra + self.columns

    @property
    def types(self) -> list[str]:
        return [self.target.columns[c].data_type for c in self.columns]

    @property
    def ignored(self) -> str | None:
        return DERIVED_TABLES.get(self.target.name)


@dataclass
class Digest:
    """Rows and the sorted-row-digest checksum of one table of one source (module doc)."""

    rows: int = 0
    row_digests: list[bytes] = field(default_factory=list)

    def add(self, values: Sequence[Any]) -> None:
        text = json.dumps(values, separators=(",", ":"))
        self.row_digests.append(hashlib.sha256(text.encode()).digest())
        self.rows += 1

    def hexdigest(self) -> str:
        return hashlib.sha256(b"".join(sorted(self.row_digests))).hexdigest()


@dataclass(frozen=True)
class TableCheck:
    """One target table, over every source: rows and checksum on each side."""

    table: str
    source_rows: int
    target_rows: int
    source_checksum: str
    target_checksum: str
    # Where the sides differ: the sources (control.db, tenants/<id>.db) by label.
    differing: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.differing

    def as_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "rows": self.source_rows,
            "target_rows": self.target_rows,
            "checksum": self.source_checksum,
            "target_checksum": self.target_checksum,
            "ok": self.ok,
            "differing": list(self.differing),
        }


@dataclass(frozen=True)
class CopyResult:
    tenants: int
    rows: int
    tables: tuple[TableCheck, ...]
    # "<source>:<table>" the target's own triggers filled (verified, not copied).
    built_by_target: tuple[str, ...]
    committed: bool

    @property
    def ok(self) -> bool:
        return all(t.ok for t in self.tables)


# -- the sources ----------------------------------------------------------------------------


def _open(path: Path) -> apsw.Connection:
    """A read-only connection with plain tuple rows (no row trace: the copy's hot loop)."""
    try:
        conn = apsw.Connection(str(path), flags=apsw.SQLITE_OPEN_READONLY)
        conn.execute("BEGIN")  # one snapshot for everything this connection reads
    except apsw.Error as exc:
        raise CopyError(f"cannot read {path}: {exc}") from None
    return conn


def _close(conn: apsw.Connection) -> None:
    try:
        conn.execute("COMMIT")
    finally:
        conn.close()


def sources(data_dir: Path) -> list[Source]:
    """control.db and every tenant file; a tenant file control.db does not list is refused."""
    control = control_file(data_dir)
    if not control.exists():
        raise CopyError(f"{data_dir} holds no control.db: not a data dir")
    conn = _open(control)
    try:
        listed = {str(row[0]) for row in conn.execute("SELECT id FROM tenants")}
    finally:
        _close(conn)
    found = []
    tenants_dir = data_dir / "tenants"
    for path in sorted(tenants_dir.glob("*.db")) if tenants_dir.exists() else []:
        match = _TENANT_FILE.match(path.name)
        if match is None or match.group(1) not in listed:
            raise CopyError(f"{path} is not the file of a tenant control.db lists; move it away")
        found.append(Source("tenant", path, match.group(1)))
    return [Source("control", control, None), *found]


def _sqlite_tables(conn: apsw.Connection) -> dict[str, list[tuple[str, str]]]:
    """Table -> [(column, declared type)], SQLite-only tables left out."""
    names = [
        str(row[0])
        for row in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
    ]
    return {
        name: [
            (str(c[0]), str(c[1]).upper())
            for c in conn.execute("SELECT name, type FROM pragma_table_info(?)", (name,))
        ]
        for name in names
        if name not in SKIPPED_TABLES
    }


def _check_version(conn: apsw.Connection, source: Source) -> None:
    row = conn.execute("PRAGMA user_version").fetchone()
    have = int(row[0]) if row else 0
    latest = len(load_migrations(source.kind))
    if have != latest:
        raise CopyError(
            f"{source.label} is at schema version {have}, not {latest}: start this version's"
            " server on the data dir once (it migrates), stop it, then copy"
        )


def _count(conn: apsw.Connection, table: str) -> int:
    row = conn.execute(f"SELECT count(*) FROM {_q(table)}").fetchone()  # a quoted name
    return int(row[0]) if row else 0


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# -- the target -----------------------------------------------------------------------------


def connect_target(dsn: str) -> psycopg.Connection[dict[str, Any]]:
    try:
        conn = psycopg.connect(dsn, row_factory=dict_row, autocommit=False)
    except psycopg.Error as exc:
        raise CopyError(f"cannot connect to the target: {_pg_reason(exc)}") from None
    # The backend's own session settings and loaders: values read back exactly as the
    # server reads them (instants as format_ts text, dates as YYYY-MM-DD).
    pg_types.configure(conn)
    conn.autocommit = False
    return conn


def target_tables(cur: psycopg.Cursor[dict[str, Any]]) -> dict[str, Target]:
    """Every table of the target's current schema, its columns and what it references."""
    tables: dict[str, Target] = {}
    for row in cur.execute(
        "SELECT c.relname AS name, c.relforcerowsecurity AS forced,"
        " pg_has_role(c.relowner, 'USAGE') AS owned"
        " FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace"
        " AND c.relkind IN ('r', 'p')"
    ).fetchall():
        tables[row["name"]] = Target(row["name"], {}, bool(row["owned"]), bool(row["forced"]))
    for row in cur.execute(
        "SELECT table_name, column_name, data_type, column_default, is_identity, is_generated"
        " FROM information_schema.columns WHERE table_schema = current_schema()"
        " ORDER BY table_name, ordinal_position"
    ).fetchall():
        table = tables.get(row["table_name"])
        if table is not None:
            table.columns[row["column_name"]] = Column(
                name=row["column_name"],
                data_type=row["data_type"],
                has_default=row["column_default"] is not None,
                generated=row["is_generated"] == "ALWAYS",
                identity=row["is_identity"] == "YES",
            )
    for row in cur.execute(
        "SELECT child.relname AS child, parent.relname AS parent FROM pg_constraint c"
        " JOIN pg_class child ON child.oid = c.conrelid"
        " JOIN pg_class parent ON parent.oid = c.confrelid"
        " WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace"
    ).fetchall():
        child = tables.get(row["child"])
        if child is not None and row["parent"] != child.name:
            child.depends_on.add(row["parent"])
    return tables


def _order(tables: Iterable[Target]) -> list[str]:
    """Referenced tables before those that reference them (foreign keys hold row by row),
    the tables the target derives last."""
    pending = {t.name: set(t.depends_on) for t in tables}
    ordered: list[str] = []
    while pending:
        ready = sorted(name for name, deps in pending.items() if not deps - set(ordered))
        if not ready:  # a cycle: no schema of ours has one; go on in name order
            ready = sorted(pending)[:1]
        for name in ready:
            ordered.append(name)
            del pending[name]
    return sorted(ordered, key=lambda name: name in DERIVED_TABLES)  # stable: keeps the rest


def plan(data_dir: Path, tables: dict[str, Target]) -> list[Plan]:
    """Map every source table onto its target; refuse any mismatch before a row is written."""
    plans: list[Plan] = []
    for source in sources(data_dir):
        conn = _open(source.path)
        try:
            _check_version(conn, source)
            found = _sqlite_tables(conn)
            counts = {table: _count(conn, table) for table in found}
        finally:
            _close(conn)
        for table, declared in found.items():
            plans.append(_plan_table(source, table, declared, tables, counts[table]))
    rank = {name: i for i, name in enumerate(_order(tables.values()))}
    # control.db first (the tenants every other row belongs to), then tenant by tenant.
    plans.sort(
        key=lambda p: (p.source.tenant_id is not None, p.source.path.name, rank[p.target.name])
    )
    return plans


def _plan_table(
    source: Source,
    table: str,
    declared: list[tuple[str, str]],
    tables: dict[str, Target],
    rows: int,
) -> Plan:
    name = RENAMED.get((source.kind, table), table)
    target = tables.get(name)
    where = f"{source.label} table {table}"
    if target is None:
        raise CopyError(
            f"{where} has no table {name!r} in the target: is this the database the"
            " migrations of this version made, and the DSN's schema the right one?"
        )
    kept = [(c, t) for c, t in declared if (source.kind, table, c) not in DROPPED_COLUMNS]
    for column_name, sqlite_type in kept:
        if column_name not in target.columns:
            raise CopyError(f"{where}: the target table {name} has no column {column_name!r}")
        # Sealed secrets and hashes stay bytes; bytes never turn into text or back.
        if (sqlite_type == "BLOB") != (target.columns[column_name].data_type == "bytea"):
            raise CopyError(
                f"{where}: column {column_name} is {sqlite_type or 'untyped'} here and"
                f" {target.columns[column_name].data_type} in the target"
            )
    if source.tenant_id is not None:
        if not target.per_tenant:
            raise CopyError(f"{where}: the target table {name} has no {TENANT_ID}")
        if any(c == TENANT_ID for c, _ in kept):
            raise CopyError(f"{where} has its own {TENANT_ID} column")
    filled = {c for c, _ in kept} | ({TENANT_ID} if source.tenant_id is not None else set())
    for column in target.columns.values():
        if column.name in filled or column.generated:
            continue
        if (name, column.name) not in DEFAULTED_COLUMNS:
            raise CopyError(
                f"the target table {name} has a column {column.name!r} that {where}"
                " lacks: the copy does not know what to put there"
            )
    return Plan(source, table, tuple(c for c, _ in kept), target, rows)


# -- values ---------------------------------------------------------------------------------


def _flag(value: Any) -> bool | None:
    if value is None:
        return None
    if value not in (0, 1):
        raise ValueError(f"{value!r} is not a 0/1 flag")
    return bool(value)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _to_target(types: Sequence[str]) -> list[tuple[int, Convert]]:
    """Where a SQLite value needs converting for COPY (the text form parses the rest)."""
    found: list[tuple[int, Convert]] = []
    for i, kind in enumerate(types):
        if kind == "boolean":
            found.append((i, _flag))
        elif kind in _FLOAT_TYPES:
            found.append((i, _float))
    return found


def _hex(value: Any) -> str | None:
    return None if value is None else bytes(value).hex()


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _json(value: Any) -> str | None:
    if value is None:
        return None
    parsed = json.loads(value) if isinstance(value, str | bytes) else value
    return json.dumps(parsed, sort_keys=True, separators=(",", ":"))


def _normalisers(types: Sequence[str]) -> list[tuple[int, Convert]]:
    """Where a value (from either side) needs normalising for the checksum (module doc);
    text, instants and dates come as the same strings from both already."""
    found: list[tuple[int, Convert]] = []
    for i, kind in enumerate(types):
        if kind == "bytea":
            found.append((i, _hex))
        elif kind == "boolean":
            found.append((i, _int))
        elif kind in _FLOAT_TYPES:
            found.append((i, _float))
        elif kind in _JSON_TYPES:
            found.append((i, _json))
    return found


def _apply(row: Sequence[Any], fns: Sequence[tuple[int, Convert]]) -> list[Any]:
    values = list(row)
    for i, fn in fns:
        values[i] = fn(values[i])
    return values


# -- copy and verify ------------------------------------------------------------------------


def copy_data_dir(
    data_dir: Path,
    dsn: str,
    *,
    verify_only: bool = False,
    progress: Progress = _no_progress,
    verify_progress: Progress = _no_progress,
) -> CopyResult:
    """Copy `data_dir` (stopped) into the empty database at `dsn` and verify it, in one
    transaction that commits only when every table matches; `verify_only` compares a copy
    made before, writing nothing."""
    if not control_file(data_dir).is_file():
        raise CopyError(f"{data_dir} holds no control.db: not a data dir")
    try:
        psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        # Not the parser's message: it quotes the string, which may hold a password.
        raise CopyError(
            "--to is not a PostgreSQL connection string (a postgresql:// URI or key=value pairs)"
        ) from None
    try:
        with hold_data_dir(data_dir, exclusive=True):
            if not verify_only:
                _migrate(dsn)
            return _copy_held(data_dir, dsn, verify_only, progress, verify_progress)
    except DataDirBusy:
        raise CopyError(
            f"{data_dir} is in use by a running server (or a restore): stop it, then copy"
        ) from None


def _migrate(dsn: str) -> None:
    """The schema first, as a server's start would make it (a no-op on a migrated one)."""
    try:
        pg_migrate.apply_migrations(dsn)
    except psycopg.OperationalError as exc:
        raise CopyError(f"cannot connect to the target: {_pg_reason(exc)}") from None
    except psycopg.Error as exc:
        raise CopyError(
            f"cannot migrate the target ({_pg_reason(exc)}): connect as the role that owns"
            " the tables and runs the migrations ([storage] admin_dsn)"
        ) from None
    except pg_migrate.SchemaTooNew as exc:
        raise CopyError(f"the target {exc}") from None


def _copy_held(
    data_dir: Path, dsn: str, verify_only: bool, progress: Progress, verify_progress: Progress
) -> CopyResult:
    conn = connect_target(dsn)
    if verify_only:
        # One snapshot for every table; and nothing written, whatever goes wrong.
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
    try:
        try:
            return _copy_in_transaction(conn, data_dir, verify_only, progress, verify_progress)
        except psycopg.Error as exc:
            with contextlib.suppress(psycopg.Error):  # the connection may be gone
                conn.rollback()
            raise CopyError(
                f"the target refused the copy ({_pg_reason(exc)}); nothing was written"
            ) from None
        except BaseException:
            with contextlib.suppress(psycopg.Error):
                conn.rollback()
            raise
    finally:
        conn.close()


def _copy_in_transaction(
    conn: psycopg.Connection[dict[str, Any]],
    data_dir: Path,
    verify_only: bool,
    progress: Progress,
    verify_progress: Progress,
) -> CopyResult:
    cur = conn.cursor()
    # A long COPY is not a runaway query (a role's statement_timeout must not end it); a
    # table another session holds is, after a while, a clear error rather than a hang.
    cur.execute("SET LOCAL statement_timeout = 0")
    cur.execute("SET LOCAL lock_timeout = '30s'")
    tables = target_tables(cur)
    plans = plan(data_dir, tables)
    used = sorted({p.target.name for p in plans})
    role = cur.execute(
        "SELECT rolsuper OR rolbypassrls AS bypass FROM pg_roles WHERE rolname = current_user"
    ).fetchone()
    bypass = bool(role and role["bypass"])
    forced = [name for name in used if tables[name].forced and not bypass]
    copied = 0
    built: list[str] = []
    source_digests: dict[tuple[Source, str], Digest] = {}
    if not verify_only:
        not_owned = [name for name in forced if not tables[name].owned]
        if not_owned:
            raise CopyError(
                f"the target role neither owns table {not_owned[0]} nor bypasses row security:"
                " connect as the role that runs the migrations ([storage] admin_dsn)"
            )
        # Row security applies to the owner too (FORCE), and PostgreSQL refuses COPY FROM
        # where it applies: lifted for this transaction only, put back before verifying.
        # ALTER TABLE also locks each table against every other session until the end.
        for name in forced:
            cur.execute(
                sql.SQL("ALTER TABLE {} NO FORCE ROW LEVEL SECURITY").format(sql.Identifier(name))
            )
        cur.execute(
            sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(
                sql.SQL(", ").join(sql.Identifier(n) for n in used)
            )
        )
        _refuse_non_empty(cur, used)
        copied, built = _copy_rows(conn, plans, source_digests, progress)
        _advance_sequences(cur, plans)
        for name in forced:
            cur.execute(
                sql.SQL("ALTER TABLE {} FORCE ROW LEVEL SECURITY").format(sql.Identifier(name))
            )
    checks = _verify(conn, plans, source_digests, verify_progress)
    committed = not verify_only and all(c.ok for c in checks)
    if committed:
        conn.commit()
        _vacuum_analyze(conn, used)
    else:
        conn.rollback()
    return CopyResult(
        tenants=len({p.source.tenant_id for p in plans if p.source.tenant_id}),
        rows=copied,
        tables=tuple(checks),
        built_by_target=tuple(built),
        committed=committed,
    )


def _vacuum_analyze(conn: psycopg.Connection[dict[str, Any]], tables: Sequence[str]) -> None:
    """Statistics and visibility maps for the rows just committed, so that the servers'
    first queries are planned on statistics (not on guesses, until autovacuum came round)
    and deep pages can read their ids from an index alone. The copy stands if this fails:
    autovacuum will do the same later."""
    conn.autocommit = True  # VACUUM runs outside a transaction
    try:
        conn.execute(
            sql.SQL("VACUUM (ANALYZE) {}").format(
                sql.SQL(", ").join(sql.Identifier(n) for n in tables)
            )
        )
    except psycopg.Error as exc:
        log.warning("copied, but VACUUM ANALYZE failed (%s); autovacuum will catch up", exc)


def _refuse_non_empty(cur: psycopg.Cursor[dict[str, Any]], used: Sequence[str]) -> None:
    for name in used:
        row = cur.execute(
            sql.SQL("SELECT EXISTS (SELECT 1 FROM {}) AS any").format(sql.Identifier(name))
        ).fetchone()
        if row and row["any"]:
            raise CopyError(
                f"the target is not empty (table {name} has rows): copy only into a new"
                " database; nothing was written"
            )


def _by_source(plans: Sequence[Plan]) -> Iterator[tuple[Source, list[Plan]]]:
    group: list[Plan] = []
    for p in plans:
        if group and group[0].source != p.source:
            yield group[0].source, group
            group = []
        group.append(p)
    if group:
        yield group[0].source, group


def _set_tenant(cur: psycopg.Cursor[Any], tenant_id: str | None) -> None:
    # Triggers and policies that read the tenant find it, as under the server.
    cur.execute("SELECT set_config('app.tenant_id', %s, true)", (tenant_id or "",))


def _copy_rows(
    conn: psycopg.Connection[dict[str, Any]],
    plans: Sequence[Plan],
    digests: dict[tuple[Source, str], Digest],
    progress: Progress,
) -> tuple[int, list[str]]:
    total = sum(p.rows for p in plans)
    done = 0
    built: list[str] = []
    progress(0, total)
    cur = conn.cursor()
    for source, group in _by_source(plans):
        sqlite = _open(source.path)
        try:
            _set_tenant(cur, source.tenant_id)
            for p in group:
                if p.ignored is not None and source.tenant_id is not None and _has_rows(cur, p):
                    # The target's triggers filled it from the rows copied before: verified
                    # below like every other table, not copied twice.
                    built.append(f"{source.label}:{p.table}")
                else:
                    digest = _copy_table(cur, sqlite, p, progress, done, total)
                    if digest is not None:
                        digests[(source, p.table)] = digest
                done += p.rows
                progress(done, total)
        finally:
            _close(sqlite)
    return done, built


def _has_rows(cur: psycopg.Cursor[dict[str, Any]], p: Plan) -> bool:
    row = cur.execute(
        sql.SQL("SELECT EXISTS (SELECT 1 FROM {} WHERE {} = %s) AS any").format(
            sql.Identifier(p.target.name), sql.Identifier(TENANT_ID)
        ),
        (p.source.tenant_id,),
    ).fetchone()
    return bool(row and row["any"])


def _select(p: Plan, *, skip_ignored: bool) -> str:
    query = "SELECT {} FROM {}".format(  # names from sqlite_schema, quoted
        ", ".join(_q(c) for c in p.columns), _q(p.table)
    )
    if skip_ignored and p.ignored is not None:
        query += f" WHERE NOT ({p.ignored})"
    return query


def _copy_table(
    cur: psycopg.Cursor[Any],
    sqlite: apsw.Connection,
    p: Plan,
    progress: Progress,
    done: int,
    total: int,
) -> Digest | None:
    """COPY one table; return its source checksum, taken from the same rows on the way
    (None for a table whose checksum leaves rows out: verification takes that one)."""
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(p.target.name),
        sql.SQL(", ").join(sql.Identifier(c) for c in p.target_columns),
    )
    types = p.types
    converts = _to_target(types)
    normalise = _normalisers(types)
    digest = Digest() if p.ignored is None else None
    prefix: list[Any] = [p.source.tenant_id] if p.source.tenant_id is not None else []
    n = 0
    with cur.copy(statement) as copy:
        for row in sqlite.execute(_select(p, skip_ignored=False)):
            try:
                values = _apply(row, converts) if converts else row
            except (ValueError, TypeError) as exc:
                raise CopyError(
                    f"{p.source.label} table {p.table}: a value the target cannot take ({exc})"
                ) from None
            copy.write_row([*prefix, *values])
            if digest is not None:
                digest.add(_apply(row, normalise))
            n += 1
            if n % BATCH == 0:
                progress(done + n, total)
    return digest


def _advance_sequences(cur: psycopg.Cursor[dict[str, Any]], plans: Sequence[Plan]) -> None:
    """Identity columns (events, histories, attempts) go on past every copied id, and past
    SQLite's high-water mark too: a feed cursor `after=N` never meets a reused N."""
    high: dict[tuple[str, str], int] = {}
    for source, group in _by_source(plans):
        sqlite = _open(source.path)
        try:
            has_marks = sqlite.execute(
                "SELECT 1 FROM sqlite_schema WHERE name = 'sqlite_sequence'"
            ).fetchone()
            marks = (
                {
                    str(r[0]): int(r[1])
                    for r in sqlite.execute("SELECT name, seq FROM sqlite_sequence")
                }
                if has_marks
                else {}
            )
        finally:
            _close(sqlite)
        for p in group:
            for column in p.target.columns.values():
                if column.identity and p.table in marks:
                    key = (p.target.name, column.name)
                    high[key] = max(high.get(key, 0), marks[p.table])
    for target in {p.target.name: p.target for p in plans}.values():
        for column in target.columns.values():
            if not (column.identity or column.has_default) or column.data_type not in _INT_TYPES:
                continue
            sequence = cur.execute(
                "SELECT pg_get_serial_sequence(%s, %s) AS seq", (target.name, column.name)
            ).fetchone()
            if not sequence or sequence["seq"] is None:
                continue
            row = cur.execute(
                sql.SQL("SELECT coalesce(max({}), 0) AS top FROM {}").format(
                    sql.Identifier(column.name), sql.Identifier(target.name)
                )
            ).fetchone()
            top = max(int(row["top"]) if row else 0, high.get((target.name, column.name), 0))
            if top > 0:
                cur.execute("SELECT setval(%s, %s)", (sequence["seq"], top))


def _verify(
    conn: psycopg.Connection[dict[str, Any]],
    plans: Sequence[Plan],
    source_digests: dict[tuple[Source, str], Digest],
    progress: Progress,
) -> list[TableCheck]:
    by_table: dict[str, list[tuple[str, Digest, Digest]]] = {}
    total = sum(p.rows for p in plans)
    done = 0
    progress(0, total)
    cur = conn.cursor()
    for source, group in _by_source(plans):
        sqlite = _open(source.path)
        try:
            # The policies are back in force: each tenant's rows are read as that tenant.
            _set_tenant(cur, source.tenant_id)
            for p in group:
                here = source_digests.get((source, p.table)) or _source_digest(sqlite, p)
                there = _target_digest(conn, p)
                by_table.setdefault(p.target.name, []).append((source.label, here, there))
                done += p.rows
                progress(done, total)
        finally:
            _close(sqlite)
    _set_tenant(cur, None)
    checks = []
    for table in sorted(by_table):
        parts = by_table[table]
        checks.append(
            TableCheck(
                table=table,
                source_rows=sum(h.rows for _, h, _ in parts),
                target_rows=sum(t.rows for _, _, t in parts),
                source_checksum=_combined((label, h) for label, h, _ in parts),
                target_checksum=_combined((label, t) for label, _, t in parts),
                differing=tuple(
                    label
                    for label, h, t in parts
                    if h.rows != t.rows or h.hexdigest() != t.hexdigest()
                ),
            )
        )
    return checks


def _source_digest(sqlite: apsw.Connection, p: Plan) -> Digest:
    digest = Digest()
    normalise = _normalisers(p.types)
    for row in sqlite.execute(_select(p, skip_ignored=True)):
        digest.add(_apply(row, normalise))
    return digest


def _target_digest(conn: psycopg.Connection[dict[str, Any]], p: Plan) -> Digest:
    digest = Digest()
    normalise = _normalisers(p.types)
    query = sql.SQL("SELECT {} FROM {}").format(
        sql.SQL(", ").join(sql.Identifier(c) for c in p.columns), sql.Identifier(p.target.name)
    )
    params: tuple[Any, ...] = ()
    conditions = []
    if p.source.tenant_id is not None:
        conditions.append(sql.SQL("{} = %s").format(sql.Identifier(TENANT_ID)))
        params = (p.source.tenant_id,)
    if p.ignored is not None:
        conditions.append(
            sql.SQL("NOT ({})").format(sql.SQL(p.ignored))
        )  # a constant of this module
    if conditions:
        query = sql.SQL("{} WHERE {}").format(query, sql.SQL(" AND ").join(conditions))
    # A server-side cursor: a 400k-row table is read a batch at a time, not all at once.
    with conn.cursor(name="reliatic_copy_verify", row_factory=tuple_row) as cur:
        cur.itersize = BATCH
        cur.execute(query, params)
        for row in cur:
            digest.add(_apply(row, normalise))
    return digest


def _combined(parts: Iterable[tuple[str, Digest]]) -> str:
    lines = sorted(f"{label} {d.rows} {d.hexdigest()}" for label, d in parts)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _pg_reason(exc: psycopg.Error) -> str:
    diag = getattr(exc, "diag", None)
    primary = diag.message_primary if diag is not None else None
    return " ".join(str(primary or exc).split())


def describe_dsn(dsn: str) -> str:
    """The target for messages: host, port and database, never a password."""
    try:
        parts = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "the target"
    host = str(parts.get("host") or "localhost")
    port = f":{parts['port']}" if parts.get("port") else ""
    where = f"socket {host}" if host.startswith("/") else host
    return f"{where}{port}, database {parts.get('dbname') or parts.get('user') or '?'}"
