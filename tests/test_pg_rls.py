"""Row Level Security holds even when the SQL forgets its `WHERE tenant_id` (SPEC §11).

Through the server's own login role (the `[storage] dsn` the test settings give a server):
- the role is no superuser, has no BYPASSRLS, and neither it nor any role it belongs to owns a
  relation (an owner is exempt from RLS unless FORCEd, and could ALTER the policy away);
- with rows of two tenants in every tenant table, deliberately unscoped SQL — SELECT count(*),
  UPDATE … SET, DELETE, and INSERT of the other tenant's row — with no tenant set, a wrong
  tenant set, and tenant A set, sees A's rows only (none unset or wrong), changes none of B's,
  and an INSERT (or UPDATE) into B is refused by the policy's WITH CHECK;
- a connection that goes back to pg-core's pool carries no tenant.

Tenant tables are found in pg_catalog (every table with a `tenant_id` column that is not one of
the control tables), so tables added later are covered without touching this file. What each
case saw is printed (`-s`) and, with RLS_PROOF_OUT=<file>, written there for the note.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_settings
from tests.pg_cluster import Database, PgCluster

pytestmark = pytest.mark.postgresql_only

TENANT_A = "ten_rls_a"
TENANT_B = "ten_rls_b"
WRONG = "ten_rls_nobody"
# Control data, shared by every tenant (Citus reference tables, docs/scale-out.md): the server
# reads them before it knows the tenant (a key by its hash, a session by its token), so they
# carry no policy. Adding a table here is a decision about isolation; say why in a comment.
CONTROL_TABLES = frozenset(
    {
        "tenants",
        "api_keys",
        "users",
        "sessions",
        "invitations",
        "control_audit_log",
        "control_audit_head",
        "control_version",
        "schema_migrations",
    }
)


def tenant_tables(cur: Any) -> list[str]:
    cur.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id'"
        " AND NOT a.attisdropped"
        " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY c.relname"
    )
    return [row[0] for row in cur.fetchall() if row[0] not in CONTROL_TABLES]


@dataclass(frozen=True)
class Column:
    name: str
    type: str


def required_columns(cur: Any, table: str) -> list[Column]:
    """The columns an INSERT must name: NOT NULL, no default, not an identity."""
    cur.execute(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
        " WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped"
        " AND attnotnull AND NOT atthasdef AND attidentity = '' AND attgenerated = ''"
        " ORDER BY attnum",
        (f"public.{table}",),
    )
    return [Column(name, type_) for name, type_ in cur.fetchall()]


def value_for(column: Column, tenant: str, table: str) -> Any:
    if column.name == "tenant_id":
        return tenant
    kind = column.type
    if kind in ("text", "character varying") or kind.startswith("character"):
        return f"{tenant}-{table}-{column.name}"
    if kind in ("bigint", "integer", "smallint", "numeric", "double precision", "real"):
        return 1
    if kind == "boolean":
        return False
    if kind.startswith("timestamp"):
        return dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    if kind == "date":
        return dt.date(2026, 1, 1)
    if kind == "bytea":
        return tenant.encode()
    if kind in ("jsonb", "json"):
        from psycopg.types.json import Jsonb

        return Jsonb({})
    raise AssertionError(f"{table}.{column.name}: no test value for type {kind}; add one here")


def insert_sql(cur: Any, table: str, tenant: str) -> tuple[str, list[Any]]:
    columns = required_columns(cur, table)
    names = ", ".join(f'"{c.name}"' for c in columns)
    marks = ", ".join(["%s"] * len(columns))
    return (
        f'INSERT INTO "{table}" ({names}) VALUES ({marks})',
        [value_for(c, tenant, table) for c in columns],
    )


def fingerprint(cur: Any, table: str, tenant: str) -> tuple[int, str]:
    """Count and digest of one tenant's rows, read as the superuser (RLS does not apply)."""
    cur.execute(
        f"SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '')"
        f' FROM "{table}" t WHERE tenant_id = %s',
        (tenant,),
    )
    count, digest = cur.fetchone()
    return int(count), str(digest)


@pytest.fixture
def database(pg_cluster: PgCluster, tmp_path: Path) -> Iterator[Database]:
    """A fresh database with one row of tenant A and one of tenant B in every tenant table,
    written by the superuser with foreign keys and triggers off (the rows only need to exist)."""
    import psycopg

    database = pg_cluster.clone()
    try:
        with psycopg.connect(pg_cluster.dsn(database.name)) as conn, conn.cursor() as cur:
            cur.execute("SET session_replication_role = replica")
            for table in tenant_tables(cur):
                for tenant in (TENANT_A, TENANT_B):
                    cur.execute(*insert_sql(cur, table, tenant))
        yield database
    finally:
        pg_cluster.drop(database)


def server_dsn(tmp_path: Path, database: Database) -> str:
    """The dsn a server gets from the test settings: the server's login role."""
    dsn = make_settings(tmp_path / "data").storage.dsn
    assert dsn is not None
    # make_settings clones its own database for the data dir; this test wants the seeded one.
    return dsn.replace(dsn.split("?")[0].rsplit("/", 1)[1], database.name, 1)


def test_the_servers_role_is_no_superuser_has_no_bypassrls_and_owns_nothing(
    pg_cluster: PgCluster, database: Database, tmp_path: Path
) -> None:
    import psycopg

    with psycopg.connect(server_dsn(tmp_path, database)) as conn:
        role, superuser, bypass = conn.execute(
            "SELECT rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
        ).fetchone() or (None, None, None)
        # Every role whose privileges it holds: itself and the groups it is a member of.
        held = conn.execute(
            "SELECT rolname, rolsuper, rolbypassrls FROM pg_roles"
            " WHERE pg_has_role(current_user, oid, 'MEMBER') ORDER BY rolname"
        ).fetchall()
        owned = conn.execute(
            "SELECT c.relname, pg_get_userbyid(c.relowner) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')"
            " AND n.nspname NOT LIKE 'pg_toast%%'"
            " AND pg_has_role(current_user, c.relowner, 'MEMBER')"
        ).fetchall()
        tables = conn.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND c.relkind = 'r'"
        ).fetchone()
    print(f"\nserver role {role}: rolsuper={superuser} rolbypassrls={bypass}; holds {held}")
    print(f"relations owned by it or its groups: {len(owned)} of {tables[0] if tables else 0}")
    assert (superuser, bypass) == (False, False)
    assert all(not su and not by for _, su, by in held), held
    assert owned == []
    assert tables and tables[0] > 0  # the schema is there: "owns none" is not "sees none"


CASES = [("no tenant set", None), ("a wrong tenant set", WRONG), ("tenant A set", TENANT_A)]
HEADER = (
    "| table | tenant set | SELECT count(*) | … WHERE tenant_id = B | UPDATE SET tenant_id ="
    " tenant_id | UPDATE SET tenant_id = B | DELETE | INSERT a row of B |"
)


REFUSED = "refused (42501)"


def attempt(conn: Any, sql: str, params: Any = ()) -> str:
    """Run `sql` in a savepoint: the rows it touched or returned, or the policy's refusal."""
    import psycopg

    try:
        with conn.transaction():
            cur = conn.execute(sql, params)
            if cur.description:
                row = cur.fetchone()
                return str(row[0] if row else None)
            return str(cur.rowcount)
    except psycopg.errors.InsufficientPrivilege as refused:
        assert "new row violates row-level security policy" in str(refused), refused
        return REFUSED


def test_unscoped_sql_sees_and_writes_only_the_tenant_that_is_set(
    pg_cluster: PgCluster, database: Database, tmp_path: Path
) -> None:
    import psycopg

    with psycopg.connect(pg_cluster.dsn(database.name)) as su, su.cursor() as cur:
        tables = tenant_tables(cur)
        before = {
            (t, who): fingerprint(cur, t, who) for t in tables for who in (TENANT_A, TENANT_B)
        }
        inserts = {t: insert_sql(cur, t, TENANT_B) for t in tables}
    assert len(tables) >= 10, tables  # the backend's tenant tables are all there

    lines = []
    seen: dict[tuple[str, str], list[str]] = {}
    with psycopg.connect(server_dsn(tmp_path, database)) as conn:
        role = conn.execute(
            "SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        lines += [
            f"Connected as `{role}` (user, rolsuper, rolbypassrls): the server's `[storage] dsn`."
            " Each table, each case, in one transaction (rolled back):",
            "`SELECT set_config('app.tenant_id', <case>, true)` (not for 'no tenant set'), then"
            " `SELECT count(*) FROM t`; `SELECT count(*) FROM t WHERE tenant_id = 'B'`;"
            " `UPDATE t SET tenant_id = tenant_id`; `UPDATE t SET tenant_id = 'B'`;"
            " `DELETE FROM t`; `INSERT INTO t (…) VALUES ('B', …)` (rows returned or touched).",
            "",
            HEADER,
            "|" + " --- |" * 8,
        ]
        for table in tables:
            for case, tenant in CASES:
                with conn.transaction(force_rollback=True):
                    if tenant is not None:
                        conn.execute("SELECT set_config('app.tenant_id', %s, true)", (tenant,))
                    row = [
                        attempt(conn, f'SELECT count(*) FROM "{table}"'),
                        attempt(
                            conn,
                            f'SELECT count(*) FROM "{table}" WHERE tenant_id = %s',
                            (TENANT_B,),
                        ),
                        attempt(conn, f'UPDATE "{table}" SET tenant_id = tenant_id'),
                        attempt(conn, f'UPDATE "{table}" SET tenant_id = %s', (TENANT_B,)),
                        attempt(conn, f'DELETE FROM "{table}"'),
                        attempt(conn, *inserts[table]),
                    ]
                seen[(table, case)] = row
                lines.append(f"| {table} | {case} | " + " | ".join(row) + " |")
    lines.append(
        f"\n{REFUSED}: `new row violates row-level security policy for table …` (WITH CHECK)."
        f" One row of A ({TENANT_A}) and one of B ({TENANT_B}) in each table; every case"
        " ran in a transaction that was rolled back."
    )
    report = "\n".join(lines)
    print("\n" + report)
    if out := os.environ.get("RLS_PROOF_OUT"):
        title = (
            "# Row Level Security: what the server's role saw (SPEC §11)\n\n"
            "Written by `RLS_PROOF_OUT=docs/rls-proof.md .venv/bin/python -m pytest -q"
            " tests/test_pg_rls.py --backend=postgresql` (PostgreSQL 15, this repository's"
            " migrations).\n\n"
        )
        Path(out).write_text(title + report + "\n", encoding="utf-8")

    for table in tables:
        for case, tenant in CASES:
            count, count_b, same, to_b, deleted, insert_b = seen[(table, case)]
            mine = "1" if tenant == TENANT_A else "0"  # one row of A per table (the fixture)
            assert (count, count_b, same, deleted) == (mine, "0", mine, mine), (table, case)
            # Moving a visible row to B breaks WITH CHECK; with none visible nothing moves.
            assert to_b == (REFUSED if mine == "1" else "0"), (table, case, to_b)
            assert insert_b == REFUSED, (table, case, insert_b)

    with psycopg.connect(pg_cluster.dsn(database.name)) as su, su.cursor() as cur:
        after = {(t, who): fingerprint(cur, t, who) for t in tables for who in (TENANT_A, TENANT_B)}
    assert after == before  # every change above was rolled back; none reached B at any point


async def test_a_connection_back_in_the_pool_carries_no_tenant(
    database: Database, tmp_path: Path
) -> None:
    from reliatic_appliance.storage.postgresql.database import PgDatabase, PgPool

    # One connection, so every unit of work below gets the very same one back from the pool.
    pool = PgPool(server_dsn(tmp_path, database), min_size=1, max_size=1)
    pool.open()
    try:
        db = PgDatabase(pool, lambda cur: cur, tenant_id=TENANT_A)

        def inside(cur: Any) -> tuple[int, str, int]:
            cur.execute(
                "SELECT pg_backend_pid() AS pid, current_setting('app.tenant_id', true) AS t,"
                " (SELECT count(*) FROM assets) AS n"
            )
            row = cur.fetchone()
            return row["pid"], row["t"], row["n"]

        def failing(cur: Any) -> None:
            cur.execute("SELECT 1")
            raise RuntimeError("the unit of work fails after the tenant was set")

        write_pid, write_tenant, write_seen = await db.write(inside)
        read_pid, read_tenant, read_seen = await db.read(inside)
        with pytest.raises(RuntimeError):
            await db.write(failing)

        with pool.connection() as conn:
            pid, tenant, visible = conn.execute(
                "SELECT pg_backend_pid(), current_setting('app.tenant_id', true),"
                " (SELECT count(*) FROM assets)"
            ).fetchone() or (None, None, None)
    finally:
        pool.close()
    print(
        f"\ninside the units of work: tenant {write_tenant!r} / {read_tenant!r} on backend"
        f" {write_pid}, {write_seen} asset row(s) visible; the same connection back from the"
        f" pool: backend {pid}, app.tenant_id={tenant!r}, {visible} asset row(s) visible"
    )
    assert (write_tenant, read_tenant, write_seen, read_seen) == (TENANT_A, TENANT_A, 1, 1)
    assert pid == write_pid == read_pid  # the very same connection
    assert tenant in ("", None) and visible == 0


def test_asset_search_the_one_way_past_row_security_keeps_to_the_tenant_set(
    pg_cluster: PgCluster, database: Database, tmp_path: Path
) -> None:
    """`asset_search_ids` (migration 0005) runs as `reliatic_search`, which has BYPASSRLS so
    that its LIKE may use the trigram index. It must give the server's role nothing the
    policies would not: only ids, only of the tenant set, none with no tenant or a wrong
    one; and its role must be able to do nothing else."""
    import psycopg

    with psycopg.connect(pg_cluster.dsn(database.name)) as su:
        tags = dict(su.execute("SELECT tenant_id, tag_number FROM assets").fetchall())
        # Every function the server's role may call that runs as another role.
        definers = su.execute(
            "SELECT p.proname, pg_get_userbyid(p.proowner) FROM pg_proc p"
            " JOIN pg_namespace n ON n.oid = p.pronamespace"
            " WHERE p.prosecdef AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
            " AND has_function_privilege('reliatic_app', p.oid, 'EXECUTE')"
        ).fetchall()
        search_role = su.execute(
            "SELECT rolcanlogin, rolsuper, rolbypassrls,"
            " pg_has_role('reliatic_app', oid, 'MEMBER') FROM pg_roles"
            " WHERE rolname = 'reliatic_search'"
        ).fetchone()
        # What reliatic_search may do to any table: SELECT on assets, nothing more.
        privileges = su.execute(
            "SELECT c.relname, p.privilege FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace,"
            " unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) AS p(privilege)"
            " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm')"
            " AND has_table_privilege('reliatic_search', c.oid, p.privilege)"
        ).fetchall()
    assert definers == [("asset_search_ids", "reliatic_search")]
    assert search_role == (False, False, True, False)  # no login; the server cannot become it
    assert privileges == [("assets", "SELECT")]

    def found(conn: Any, tenant: str | None, term: str) -> list[str]:
        with conn.transaction(force_rollback=True):
            if tenant is not None:
                conn.execute("SELECT set_config('app.tenant_id', %s, true)", (tenant,))
            rows = conn.execute("SELECT a FROM asset_search_ids(%s) AS a", (term,)).fetchall()
        return [row[0] for row in rows]

    term_b = tags[TENANT_B]  # B's tag, searched for with each case set
    lines = [
        "`SELECT * FROM asset_search_ids(<term>)` as the server's role (the empty term finds"
        " every asset):",
        "",
        "| tenant set | `''` (ids) | B's tag (ids) |",
        "| --- | --- | --- |",
    ]
    seen = {}
    with psycopg.connect(server_dsn(tmp_path, database)) as conn:
        for case, tenant in CASES:
            every = found(conn, tenant, "")
            of_b = found(conn, tenant, term_b)
            seen[case] = (len(every), len(of_b))
            lines.append(f"| {case} | {len(every)} | {len(of_b)} |")
        with conn.transaction(force_rollback=True):
            conn.execute("SELECT set_config('app.tenant_id', %s, true)", (TENANT_B,))
            own = conn.execute("SELECT count(*) FROM asset_search_ids(%s)", (term_b,)).fetchone()
    report = "\n".join(lines)
    print("\n" + report)
    if out := os.environ.get("RLS_PROOF_OUT"):
        # After the table the first test wrote to the same file (the file's order).
        with open(out, "a", encoding="utf-8") as proof:
            proof.write(
                "\n## The one function that reads past row security\n\n"
                "`asset_search_ids` runs as `reliatic_search` (BYPASSRLS, no login; SELECT on"
                " `assets` only) so that asset search can use its trigram index"
                " (docs/postgresql.md). It is the only SECURITY DEFINER function the server's"
                " role may call, and it keeps to the tenant set:\n\n" + report + "\n"
            )
    assert seen == {"no tenant set": (0, 0), "a wrong tenant set": (0, 0), "tenant A set": (1, 0)}
    assert own == (1,)  # with B set, B's own tag is found: the search works, it is not empty
