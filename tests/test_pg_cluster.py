"""The throwaway cluster itself (tests/pg_cluster.py): roles as pg-common.md fixes them, clones
that are fresh and separate, nothing on TCP."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.pg_cluster import (
    APP_ROLE,
    OWNER_ROLE,
    SERVER_GROUP,
    TEMPLATE_DB,
    PgCluster,
    backend_env,
)

pytestmark = pytest.mark.postgresql_only


def test_roles_are_as_the_design_fixes_them(pg_cluster: PgCluster) -> None:
    rows = pg_cluster.execute(
        "SELECT rolname, rolcanlogin, rolsuper, rolbypassrls, rolcreatedb, rolcreaterole "
        "FROM pg_roles WHERE rolname = ANY(%s) ORDER BY rolname",
        ([APP_ROLE, OWNER_ROLE, SERVER_GROUP],),
    )
    assert rows == [
        (APP_ROLE, True, False, False, False, False),
        (OWNER_ROLE, True, False, False, False, False),
        (SERVER_GROUP, False, False, False, False, False),
    ]
    members = pg_cluster.execute(
        "SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid "
        "JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = %s",
        (APP_ROLE,),
    )
    assert members == [(SERVER_GROUP,)]


def test_no_tcp_listener(pg_cluster: PgCluster) -> None:
    assert pg_cluster.execute("SHOW listen_addresses") == [("",)]
    assert pg_cluster.execute("SHOW fsync") == [("off",)]


def test_each_data_dir_gets_its_own_fresh_database(pg_cluster: PgCluster, tmp_path: Path) -> None:
    import psycopg

    first = backend_env(tmp_path / "one")
    again = backend_env(tmp_path / "one")
    other = backend_env(tmp_path / "two")
    assert first == again and first != other
    assert first["RELIATIC_STORAGE_BACKEND"] == "postgresql"
    with psycopg.connect(first["RELIATIC_STORAGE_ADMIN_DSN"], autocommit=True) as conn:
        conn.execute("CREATE TABLE only_in_one (id int)")
        (user,) = conn.execute("SELECT current_user").fetchone() or ()
    assert user == OWNER_ROLE
    with psycopg.connect(other["RELIATIC_STORAGE_DSN"]) as conn:
        row = conn.execute("SELECT to_regclass('only_in_one'), current_user").fetchone()
    assert row == (None, APP_ROLE)
    # The template itself stays untouched.
    assert pg_cluster.execute("SELECT to_regclass('only_in_one')", dbname=TEMPLATE_DB) == [(None,)]


def test_clone_time(pg_cluster: PgCluster) -> None:
    """How long a fresh database costs per test, for both strategies of PostgreSQL 15."""
    timings: dict[str, float] = {}
    for strategy in ("FILE_COPY", "WAL_LOG"):
        started = time.perf_counter()
        for n in range(5):
            name = f"clone_{strategy.lower()}_{n}"
            pg_cluster.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB} STRATEGY {strategy}")
            pg_cluster.execute(f"DROP DATABASE {name}")
        timings[strategy] = (time.perf_counter() - started) / 5
    tables = pg_cluster.execute(
        "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", dbname=TEMPLATE_DB
    )[0][0]
    print(
        f"clone+drop of a template with {tables} tables: "
        + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in timings.items())
    )
    assert timings["FILE_COPY"] < 5
