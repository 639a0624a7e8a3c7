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
server reads it (instants as `format_ts` text, dates `YYYY-MM-DD`, floats by `repr`, bytes as
hex, JSON re-serialised with sorted keys, flags as 0/1), each row SHA-256 over its values,
the table SHA-256 over the sorted row digests. Sorting the digests, rather than the rows,
makes the result independent of the two engines' orderings (SQLite compares text bytewise,
PostgreSQL by the database's collation).

The master key (`secret/`) is not copied: sealed secrets go over as the bytes they are, and
the server that serves them needs the data dir's `secret/master.key`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import apsw
import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from reliatic_appliance.storage.layout import DataDirBusy, hold_data_dir
from reliatic_appliance.storage.migrate import load_migrations
from reliatic_appliance.storage.sqlite import connect
from reliatic_appliance.storage.tenancy import control_file
from reliatic_appliance.timefmt import format_ts

# SQLite's own bookkeeping (sqlite_sequence is read for the identity high-water marks), each
# file's migration ledger (the target keeps its own), and the FTS5 search index over assets
# (its virtual table and FTS5's shadow tables): the target builds its own search from assets.
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

TENANT_ID = "tenant_id"
_TENANT_FILE = re.compile(r"^(ten_[0-9A-Z]{26})\.db$")
_INT_TYPES = frozenset({"smallint", "integer", "bigint"})
_FLOAT_TYPES = frozenset({"double precision", "real"})
_JSON_TYPES = frozenset({"json", "jsonb"})
FETCH_ROWS = 2000


class CopyError(Exception):
    """The copy cannot start or go on; the message is one line for the user."""


Progress = Callable[[int, int], None]


def _no_progress(done: int, total: int) -> None:
    return None


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str
    nullable: bool
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
    """What goes where: a source table, its columns, the target table and its columns."""

    source: Source
    table: str
    columns: tuple[str, ...]
    target: Target

    @property
    def target_columns(self) -> tuple[str, ...]:
        extra = (TENANT_ID,) if self.source.tenant_id is not None else ()
        return extra + self.columns


@dataclass
class Digest:
    rows: int = 0
    row_digests: list[bytes] = field(default_factory=list)

    def add(self, digest: bytes) -> None:
        self.rows += 1
        self.row_digests.append(digest)

    def hexdigest(self) -> str:
        return hashlib.sha256(b"".join(sorted(self.row_digests))).hexdigest()


@dataclass(frozen=True)
class TableCheck:
    """One target table, summed over every source: rows and checksum on each side."""

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
    built_by_target: tuple[str, ...]
    committed: bool

    @property
    def ok(self) -> bool:
        return all(t.ok for t in self.tables)


# -- the sources ----------------------------------------------------------------------------


def sources(data_dir: Path) -> list[Source]:
    """control.db and every tenant file; a tenant file control.db does not list is refused."""
    control = control_file(data_dir)
    if not control.exists():
        raise CopyError(f"{data_dir} holds no control.db: not a data dir")
    conn = _open(control)
    try:
        listed = {str(row["id"]) for row in conn.execute("SELECT id FROM tenants")}
    finally:
        conn.close()
    found = []
    tenants_dir = data_dir / "tenants"
    for path in sorted(tenants_dir.glob("*.db")) if tenants_dir.exists() else []:
        match = _TENANT_FILE.match(path.name)
        if match is None or match.group(1) not in listed:
            raise CopyError(f"{path} is not the file of a tenant control.db lists; move it away")
        found.append(Source("tenant", path, match.group(1)))
    return [Source("control", control, None), *found]


def _open(path: Path) -> apsw.Connection:
    try:
        return connect(path, readonly=True)
    except apsw.Error as exc:
        raise CopyError(f"cannot open {path}: {exc}") from exc


def _sqlite_tables(conn: apsw.Connection) -> dict[str, list[str]]:
    names = [
        str(row["name"])
        for row in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
    ]
    return {
        name: [
            str(c["name"]) for c in conn.execute("SELECT name FROM pragma_table_info(?)", (name,))
        ]
        for name in names
        if name not in SKIPPED_TABLES
    }


def _check_version(conn: apsw.Connection, source: Source) -> None:
    row = conn.execute("PRAGMA user_version").fetchone()
    have = int(row["user_version"]) if row else 0
    latest = len(load_migrations(source.kind))
    if have != latest:
        raise CopyError(
            f"{source.label} is at schema version {have}, not {latest}: start this version's"
            " server on the data dir once (it migrates), stop it, then copy"
        )


# -- the target -----------------------------------------------------------------------------


def connect_target(dsn: str) -> psycopg.Connection[dict[str, Any]]:
    try:
        conn = psycopg.connect(dsn, row_factory=dict_row, autocommit=False)
    except psycopg.Error as exc:
        raise CopyError(f"cannot connect to the target: {_pg_reason(exc)}") from None
    # Instants come back in UTC, so `format_ts` gives the text the services wrote.
    conn.execute("SET TIME ZONE 'UTC'")
    conn.commit()
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
        "SELECT table_name, column_name, data_type, is_nullable, column_default,"
        " is_identity, is_generated FROM information_schema.columns"
        " WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
    ).fetchall():
        table = tables.get(row["table_name"])
        if table is not None:
            table.columns[row["column_name"]] = Column(
                name=row["column_name"],
                data_type=row["data_type"],
                nullable=row["is_nullable"] == "YES",
                has_default=row["column_default"] is not None,
                generated=row["is_generated"] == "ALWAYS",
                identity=row["is_identity"] == "YES",
            )
    for row in cur.execute(
        "SELECT c.conrelid::regclass::text AS child, c.confrelid::regclass::text AS parent"
        " FROM pg_constraint c WHERE c.contype = 'f'"
        " AND c.connamespace = current_schema()::regnamespace"
    ).fetchall():
        child = tables.get(_unquote(row["child"]))
        if child is not None and _unquote(row["parent"]) != child.name:
            child.depends_on.add(_unquote(row["parent"]))
    return tables


def _unquote(name: str) -> str:
    return name.split(".")[-1].strip('"')


def _order(tables: Iterable[Target]) -> list[str]:
    """Referenced tables before those that reference them (foreign keys hold row by row)."""
    pending = {t.name: set(t.depends_on) for t in tables}
    ordered: list[str] = []
    while pending:
        ready = sorted(name for name, deps in pending.items() if not deps - set(ordered))
        if not ready:  # a cycle: no schema of ours has one; keep going in name order
            ready = sorted(pending)[:1]
        for name in ready:
            ordered.append(name)
            del pending[name]
    return ordered


def plan(data_dir: Path, tables: dict[str, Target]) -> list[Plan]:
    """Map every source table onto its target; refuse any mismatch before a row is written."""
    plans: list[Plan] = []
    for source in sources(data_dir):
        conn = _open(source.path)
        try:
            _check_version(conn, source)
            found = _sqlite_tables(conn)
        finally:
            conn.close()
        for table, columns in found.items():
            name = RENAMED.get((source.kind, table), table)
            target = tables.get(name)
            where = f"{source.label} table {table}"
            if target is None:
                raise CopyError(
                    f"{where} has no table {name!r} in the target: is the target database"
                    " migrated by this version (reliatic serve with [storage] backend ="
                    ' "postgresql" once), and is the DSN\'s schema the right one?'
                )
            kept = tuple(c for c in columns if (source.kind, table, c) not in DROPPED_COLUMNS)
            missing = [c for c in kept if c not in target.columns]
            if missing:
                raise CopyError(f"{where}: the target table {name} has no column {missing[0]!r}")
            if source.tenant_id is not None:
                if not target.per_tenant:
                    raise CopyError(f"{where}: the target table {name} has no {TENANT_ID}")
                if TENANT_ID in kept:
                    raise CopyError(f"{where} has its own {TENANT_ID} column")
            filled = {*kept, TENANT_ID} if source.tenant_id is not None else set(kept)
            for column in target.columns.values():
                if column.name in filled or column.generated:
                    continue
                if (name, column.name) not in DEFAULTED_COLUMNS:
                    raise CopyError(
                        f"the target table {name} has a column {column.name!r} that {where}"
                        " lacks: the copy does not know what to put there"
                    )
            plans.append(Plan(source, table, kept, target))
    rank = {name: i for i, name in enumerate(_order(tables.values()))}
    # control.db first (the tenants every other row belongs to), then tenant by tenant.
    plans.sort(
        key=lambda p: (p.source.tenant_id is not None, p.source.path.name, rank[p.target.name])
    )
    return plans


# -- values ---------------------------------------------------------------------------------


def to_target(value: Any, column: Column) -> Any:
    """A SQLite value as the target column takes it (COPY's text form parses the rest)."""
    if value is None:
        return None
    kind = column.data_type
    if kind == "boolean":
        if value not in (0, 1):
            raise ValueError(f"{value!r} is not a 0/1 flag")
        return bool(value)
    if kind == "bytea":
        if not isinstance(value, bytes):
            raise ValueError(f"a {type(value).__name__} where bytes belong")
        return value
    if kind in _INT_TYPES:
        if not isinstance(value, int):
            raise ValueError(f"{value!r} is not an integer")
        return value
    if kind in _FLOAT_TYPES:
        if not isinstance(value, int | float):
            raise ValueError(f"{value!r} is not a number")
        return float(value)
    if isinstance(value, bytes):
        raise ValueError(f"bytes where {kind} belongs")
    return str(value) if not isinstance(value, str) else value


def normalised(value: Any, data_type: str) -> str | None:
    """One value as the server reads it back, the same text from either side (module doc)."""
    if value is None:
        return None
    if data_type in _JSON_TYPES:
        parsed = json.loads(value) if isinstance(value, str | bytes) else value
        return json.dumps(parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    if isinstance(value, dt.datetime):
        return format_ts(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if data_type in _FLOAT_TYPES or isinstance(value, float):
        return repr(float(value))
    return str(value)


def row_digest(values: Sequence[str | None]) -> bytes:
    hasher = hashlib.sha256()
    for text in values:
        if text is None:
            hasher.update(b"\x00")
        else:
            encoded = text.encode("utf-8", "surrogatepass")
            hasher.update(b"\x01%d:" % len(encoded))
            hasher.update(encoded)
    return hasher.digest()


# -- copy and verify ------------------------------------------------------------------------


def _sqlite_rows(conn: apsw.Connection, p: Plan) -> Iterator[tuple[Any, ...]]:
    select = "SELECT {} FROM {}".format(  # noqa: S608  # names from sqlite_schema, quoted
        ", ".join(_q(c) for c in p.columns), _q(p.table)
    )
    for row in conn.execute(select):
        yield tuple(row[c] for c in p.columns)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _source_digest(conn: apsw.Connection, p: Plan) -> Digest:
    digest = Digest()
    types = [p.target.columns[c].data_type for c in p.columns]
    for row in _sqlite_rows(conn, p):
        digest.add(row_digest([normalised(v, t) for v, t in zip(row, types, strict=True)]))
    return digest


def _target_digest(cur: psycopg.Cursor[dict[str, Any]], p: Plan) -> Digest:
    digest = Digest()
    types = [p.target.columns[c].data_type for c in p.columns]
    query = sql.SQL("SELECT {} FROM {}").format(
        sql.SQL(", ").join(sql.Identifier(c) for c in p.columns), sql.Identifier(p.target.name)
    )
    if p.source.tenant_id is not None:
        query = sql.SQL("{} WHERE {} = %s").format(query, sql.Identifier(TENANT_ID))
        cur.execute(query, (p.source.tenant_id,))
    else:
        cur.execute(query)
    while batch := cur.fetchmany(FETCH_ROWS):
        for row in batch:
            values = [row[c] for c in p.columns]
            digest.add(row_digest([normalised(v, t) for v, t in zip(values, types, strict=True)]))
    return digest


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
    try:
        with hold_data_dir(data_dir, exclusive=True):
            return _copy_held(data_dir, dsn, verify_only, progress, verify_progress)
    except DataDirBusy:
        raise CopyError(
            f"{data_dir} is in use by a running server (or a restore): stop it, then copy"
        ) from None
    except FileNotFoundError:
        raise CopyError(f"{data_dir} is not a data dir") from None


def _copy_held(
    data_dir: Path, dsn: str, verify_only: bool, progress: Progress, verify_progress: Progress
) -> CopyResult:
    conn = connect_target(dsn)
    try:
        with conn.cursor() as cur:
            try:
                return _copy_in_transaction(
                    conn, cur, data_dir, verify_only, progress, verify_progress
                )
            except psycopg.Error as exc:
                conn.rollback()
                raise CopyError(
                    f"the target refused the copy ({_pg_reason(exc)}); nothing was written"
                ) from None
            except BaseException:
                conn.rollback()
                raise
    finally:
        conn.close()


def _copy_in_transaction(
    conn: psycopg.Connection[dict[str, Any]],
    cur: psycopg.Cursor[dict[str, Any]],
    data_dir: Path,
    verify_only: bool,
    progress: Progress,
    verify_progress: Progress,
) -> CopyResult:
    tables = target_tables(cur)
    plans = plan(data_dir, tables)
    used = sorted({p.target.name for p in plans})
    role = cur.execute(
        "SELECT rolsuper OR rolbypassrls AS bypass FROM pg_roles WHERE rolname = current_user"
    ).fetchone()
    bypass = bool(role and role["bypass"])
    forced = [name for name in used if tables[name].forced and not bypass]
    if verify_only:
        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        built: list[str] = []
        copied = 0
    else:
        not_owned = [name for name in forced if not tables[name].owned]
        if not_owned:
            raise CopyError(
                f"the target role neither owns table {not_owned[0]} nor bypasses row security:"
                " connect as the role that runs the migrations ([storage] admin_dsn)"
            )
        # Row security applies to the owner too (FORCE), and PostgreSQL refuses COPY FROM
        # where it applies: lifted for this transaction only, put back before verifying.
        # ALTER TABLE also locks each table against any other session until the end.
        for name in forced:
            cur.execute(
                sql.SQL("ALTER TABLE {} NO FORCE ROW LEVEL SECURITY").format(sql.Identifier(name))
            )
        if not forced:
            cur.execute(
                sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(
                    sql.SQL(", ").join(sql.Identifier(n) for n in used)
                )
            )
        _refuse_non_empty(cur, used)
        copied, built = _copy_rows(cur, plans, progress)
        _advance_sequences(cur, plans, data_dir)
        for name in forced:
            cur.execute(
                sql.SQL("ALTER TABLE {} FORCE ROW LEVEL SECURITY").format(sql.Identifier(name))
            )
    checks = _verify(cur, plans, verify_progress)
    tenants = len({p.source.tenant_id for p in plans if p.source.tenant_id})
    result = CopyResult(
        tenants=tenants,
        rows=copied,
        tables=tuple(checks),
        built_by_target=tuple(built),
        committed=False,
    )
    if verify_only or not result.ok:
        conn.rollback()
        return result
    conn.commit()
    return CopyResult(tenants, copied, tuple(checks), tuple(built), committed=True)


def _refuse_non_empty(cur: psycopg.Cursor[dict[str, Any]], used: Sequence[str]) -> None:
    for name in used:
        row = cur.execute(
            sql.SQL("SELECT EXISTS (SELECT 1 FROM {}) AS any").format(sql.Identifier(name))
        ).fetchone()
        if row and row["any"]:
            raise CopyError(
                f"the target is not empty (table {name} has rows): copy only into a new,"
                " migrated database"
            )


def _copy_rows(
    cur: psycopg.Cursor[dict[str, Any]], plans: Sequence[Plan], progress: Progress
) -> tuple[int, list[str]]:
    total = 0
    counts: dict[tuple[Path, str], int] = {}
    for source, group in _by_source(plans):
        conn = _open(source.path)
        try:
            for p in group:
                row = conn.execute(f"SELECT count(*) AS n FROM {_q(p.table)}").fetchone()  # noqa: S608
                counts[(source.path, p.table)] = int(row["n"]) if row else 0
        finally:
            conn.close()
    total = sum(counts.values())
    done = 0
    built: list[str] = []
    progress(0, total)
    for source, group in _by_source(plans):
        conn = _open(source.path)
        try:
            conn.execute("BEGIN")
            if source.tenant_id is not None:
                # Triggers and defaults that read the tenant find it, as under the server.
                cur.execute("SELECT set_config('app.tenant_id', %s, true)", (source.tenant_id,))
            for p in group:
                if source.tenant_id is not None and _has_rows(cur, p):
                    # A trigger on a table copied before filled it (counts kept by the
                    # target itself): verified below like every other table, not copied.
                    built.append(f"{source.label}:{p.table}")
                    done += counts[(source.path, p.table)]
                    progress(done, total)
                    continue
                done = _copy_table(cur, conn, p, done, total, progress)
            conn.execute("COMMIT")
        finally:
            conn.close()
    return done, built


def _has_rows(cur: psycopg.Cursor[dict[str, Any]], p: Plan) -> bool:
    row = cur.execute(
        sql.SQL("SELECT EXISTS (SELECT 1 FROM {} WHERE {} = %s) AS any").format(
            sql.Identifier(p.target.name), sql.Identifier(TENANT_ID)
        ),
        (p.source.tenant_id,),
    ).fetchone()
    return bool(row and row["any"])


def _copy_table(
    cur: psycopg.Cursor[dict[str, Any]],
    conn: apsw.Connection,
    p: Plan,
    done: int,
    total: int,
    progress: Progress,
) -> int:
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(p.target.name),
        sql.SQL(", ").join(sql.Identifier(c) for c in p.target_columns),
    )
    columns = [p.target.columns[c] for c in p.columns]
    prefix: tuple[Any, ...] = (p.source.tenant_id,) if p.source.tenant_id is not None else ()
    with cur.copy(statement) as copy:
        for row in _sqlite_rows(conn, p):
            try:
                values = [to_target(v, c) for v, c in zip(row, columns, strict=True)]
            except ValueError as exc:
                raise CopyError(
                    f"{p.source.label} table {p.table}: a value the target cannot take ({exc})"
                ) from None
            copy.write_row(prefix + tuple(values))
            done += 1
            if done % FETCH_ROWS == 0:
                progress(done, total)
    progress(done, total)
    return done


def _by_source(plans: Sequence[Plan]) -> Iterator[tuple[Source, list[Plan]]]:
    group: list[Plan] = []
    for p in plans:
        if group and group[0].source != p.source:
            yield group[0].source, group
            group = []
        group.append(p)
    if group:
        yield group[0].source, group


def _advance_sequences(
    cur: psycopg.Cursor[dict[str, Any]], plans: Sequence[Plan], data_dir: Path
) -> None:
    """Identity columns (events, histories, attempts) go on past every copied id, and past
    SQLite's high-water mark too: a feed cursor `after=N` never meets a reused N."""
    high: dict[tuple[str, str], int] = {}
    for source, group in _by_source(plans):
        conn = _open(source.path)
        try:
            has_sequence = conn.execute(
                "SELECT 1 FROM sqlite_schema WHERE name = 'sqlite_sequence'"
            ).fetchone()
            marks = (
                {
                    str(r["name"]): int(r["seq"])
                    for r in conn.execute("SELECT name, seq FROM sqlite_sequence")
                }
                if has_sequence
                else {}
            )
        finally:
            conn.close()
        for p in group:
            for column in p.target.columns.values():
                if column.identity and p.table in marks:
                    key = (p.target.name, column.name)
                    high[key] = max(high.get(key, 0), marks[p.table])
    for target in {p.target.name: p.target for p in plans}.values():
        for column in target.columns.values():
            if not column.identity and not (column.has_default and column.data_type in _INT_TYPES):
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
    cur: psycopg.Cursor[dict[str, Any]], plans: Sequence[Plan], progress: Progress
) -> list[TableCheck]:
    by_table: dict[str, list[tuple[str, Digest, Digest]]] = {}
    total = len(plans)
    progress(0, total)
    done = 0
    for source, group in _by_source(plans):
        conn = _open(source.path)
        try:
            conn.execute("BEGIN")
            if source.tenant_id is not None:
                cur.execute("SELECT set_config('app.tenant_id', %s, true)", (source.tenant_id,))
            for p in group:
                here = _source_digest(conn, p)
                there = _target_digest(cur, p)
                by_table.setdefault(p.target.name, []).append((source.label, here, there))
                done += 1
                progress(done, total)
            conn.execute("COMMIT")
        finally:
            conn.close()
        if source.tenant_id is not None:
            cur.execute("SELECT set_config('app.tenant_id', '', true)")
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


def _combined(parts: Iterable[tuple[str, Digest]]) -> str:
    lines = sorted(f"{label} {d.rows} {d.hexdigest()}" for label, d in parts)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _pg_reason(exc: psycopg.Error) -> str:
    diag = getattr(exc, "diag", None)
    primary = diag.message_primary if diag is not None else None
    return " ".join(str(primary or exc).split())


def describe_dsn(dsn: str) -> str:
    """The target for messages: host, port and database, never a password."""
    with contextlib.suppress(psycopg.ProgrammingError):
        parts = psycopg.conninfo.conninfo_to_dict(dsn)
        host = str(parts.get("host") or "localhost")
        where = host if not host.startswith("/") else f"socket {host}"
        port = f":{parts['port']}" if parts.get("port") else ""
        return f"{where}{port}/{parts.get('dbname') or parts.get('user') or ''}"
    return "the target"
