"""The PostgreSQL backend's core (issue 15, SPEC §11): what SQLite cannot show. Several nodes
on one database see a revocation on their next request; migrations started by two nodes at
once run once; a server role that could read past row security is refused; values come back
as the SQLite backend's strings; removing a tenant removes its rows; file-only commands say
what to use instead."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest
from aiohttp.test_utils import TestClient

from reliatic_appliance.app import create_app
from reliatic_appliance.keys import CONTROL_DB, SETTINGS, TENANT_DBS
from reliatic_appliance.services import tenants
from reliatic_appliance.services.audit import Who, record_control, record_tenant
from reliatic_appliance.storage.backends import StorageUnusable, open_storage
from reliatic_appliance.storage.postgresql.database import PgDatabase
from reliatic_appliance.storage.postgresql.migrate import apply_migrations, load_migrations
from reliatic_appliance.timefmt import utc_now
from tests.conftest import make_settings, open_api
from tests.pg_cluster import OWNER_ROLE, SUPERUSER, PgCluster, backend_env
from tests.process import cli

pytestmark = pytest.mark.postgresql_only

KEYS = ["api_keys:read", "api_keys:write"]


async def two_nodes(
    aiohttp_client: Callable[..., Awaitable[TestClient]], data_dir: Path
) -> tuple[TestClient, TestClient]:
    """Two servers, each with its own pool and auth cache, on the one database of data_dir."""
    settings = make_settings(data_dir)
    first = await aiohttp_client(create_app(settings, run_scheduler=False))
    second = await aiohttp_client(create_app(settings, run_scheduler=False))
    return first, second


async def test_a_key_revoked_through_one_node_is_refused_by_the_other(
    aiohttp_client: Callable[..., Awaitable[TestClient]], data_dir: Path
) -> None:
    a, b = await two_nodes(aiohttp_client, data_dir)
    api = await open_api(a, KEYS)
    key, key_id = await api.new_key(scopes=["api_keys:read"])
    auth = {"Authorization": f"Bearer {key}"}
    for _ in range(2):  # the second is answered from b's remembered credential
        assert (await b.get("/api/v1/api-keys", headers=auth)).status == 200
    revoked = await a.delete(f"/api/v1/api-keys/{key_id}", headers=api.headers())
    assert revoked.status in (200, 204), await revoked.text()
    refused = await b.get("/api/v1/api-keys", headers=auth)
    assert refused.status == 401
    assert (await refused.json())["error"] == "invalid_api_key"


async def test_a_tenant_disabled_through_one_node_is_refused_by_the_other(
    aiohttp_client: Callable[..., Awaitable[TestClient]], data_dir: Path
) -> None:
    a, b = await two_nodes(aiohttp_client, data_dir)
    api = await open_api(a, KEYS)
    assert (await b.get("/api/v1/api-keys", headers=api.headers())).status == 200
    await tenants.disable_tenant(a.app[CONTROL_DB], "acme", by=Who("test"), now=utc_now())
    assert (await b.get("/api/v1/api-keys", headers=api.headers())).status == 401
    await tenants.enable_tenant(a.app[CONTROL_DB], "acme", by=Who("test"), now=utc_now())
    assert (await b.get("/api/v1/api-keys", headers=api.headers())).status == 200


async def test_the_auth_cache_holds_until_the_control_version_moves(
    aiohttp_client: Callable[..., Awaitable[TestClient]], data_dir: Path
) -> None:
    """The cache is real (a change that does not bump the version goes unseen) and the
    version row is what ends it: the design of 0001_control.sql, shown from outside."""
    node = await aiohttp_client(create_app(make_settings(data_dir), run_scheduler=False))
    api = await open_api(node, KEYS)
    # The first use records last_used_at (a change: the version moves); the second is then
    # remembered under the version that stays.
    for _ in range(2):
        assert (await node.get("/api/v1/api-keys", headers=api.headers())).status == 200
    admin = backend_env(data_dir)["RELIATIC_STORAGE_ADMIN_DSN"]
    with psycopg.connect(admin, autocommit=True) as conn:
        # As the owner, behind the trigger's back (no server role can do this).
        conn.execute("ALTER TABLE api_keys DISABLE TRIGGER api_keys_bump_version")
        conn.execute("UPDATE api_keys SET revoked_at = now() WHERE id = %s", (api.key_id,))
        conn.execute("ALTER TABLE api_keys ENABLE TRIGGER api_keys_bump_version")
    assert (await node.get("/api/v1/api-keys", headers=api.headers())).status == 200
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("UPDATE control_version SET version = version + 1")
    assert (await node.get("/api/v1/api-keys", headers=api.headers())).status == 401


def test_two_nodes_migrating_at_once_run_each_migration_once(pg_cluster: PgCluster) -> None:
    pg_cluster.execute(f"CREATE DATABASE racing OWNER {OWNER_ROLE}")
    try:
        admin = pg_cluster.dsn("racing", OWNER_ROLE)
        with ThreadPoolExecutor(max_workers=2) as pool:
            ran = list(pool.map(apply_migrations, [admin, admin]))
        assert sorted(ran) == [0, len(load_migrations())]
        rows = pg_cluster.execute("SELECT version FROM schema_migrations", dbname="racing")
        assert sorted(v for (v,) in rows) == list(range(1, len(load_migrations()) + 1))
        assert apply_migrations(admin) == 0
    finally:
        pg_cluster.execute("DROP DATABASE racing WITH (FORCE)")


def test_a_server_role_that_bypasses_row_security_is_refused(
    pg_cluster: PgCluster, data_dir: Path
) -> None:
    env = backend_env(data_dir)
    superuser = env["RELIATIC_STORAGE_DSN"].replace("reliatic_app@", f"{SUPERUSER}@")
    settings = make_settings(data_dir, {"RELIATIC_STORAGE_DSN": superuser})
    with pytest.raises(StorageUnusable, match="superuser or has BYPASSRLS"):
        open_storage(settings)


def test_an_owner_the_dba_has_not_let_hand_over_the_search_function_is_told_how(
    pg_cluster: PgCluster, tmp_path: Path
) -> None:
    """Migration 0005 needs its owner to be a member of reliatic_search (docs/postgresql.md):
    without that, the start stops on one line naming the statement that fixes it, having
    changed nothing (each migration is one transaction)."""
    pg_cluster.execute("CREATE ROLE lone_owner LOGIN")
    pg_cluster.execute("CREATE DATABASE lone OWNER lone_owner")
    try:
        (tmp_path / "data").mkdir()
        admin = pg_cluster.dsn("lone", "lone_owner")
        settings = make_settings(
            tmp_path / "data",
            {"RELIATIC_STORAGE_DSN": admin, "RELIATIC_STORAGE_ADMIN_DSN": admin},
        )
        with pytest.raises(StorageUnusable) as caught:
            open_storage(settings)
        message = str(caught.value)
        assert "\n" not in message
        assert "lone_owner is not a member of reliatic_search" in message
        assert "GRANT reliatic_search TO lone_owner" in message
        rows = pg_cluster.execute("SELECT max(version) FROM schema_migrations", dbname="lone")
        assert rows == [(4,)]  # 0001-0004 stand; 0005 left nothing half-made
        assert pg_cluster.execute("SELECT to_regclass('assets_search')", dbname="lone") == [(None,)]
    finally:
        pg_cluster.execute("DROP DATABASE lone WITH (FORCE)")
        pg_cluster.execute("DROP OWNED BY lone_owner")
        pg_cluster.execute("DROP ROLE lone_owner")


async def test_pool_size_bounds_the_connections_a_node_holds(
    pg_cluster: PgCluster, data_dir: Path
) -> None:
    """`[storage] pool_size`: at most that many transactions at once, each on a connection
    of its own; more wait for one (the busy timeout) rather than open another."""
    settings = make_settings(data_dir, {"RELIATIC_STORAGE_POOL_SIZE": "2"})
    storage = await asyncio.to_thread(open_storage, settings)
    try:

        def busy(tx: Any) -> int:
            # How many of this role's backends are inside a transaction right now.
            tx.cur.execute("SELECT pg_sleep(0.3)")
            row = tx.cur.execute(
                "SELECT count(*) AS n FROM pg_stat_activity"
                " WHERE usename = current_user AND datname = current_database()"
            ).fetchone()
            return int(row["n"])

        seen = await asyncio.gather(*(storage.control.read(busy, snapshot=False) for _ in range(5)))
    finally:
        storage.close()
    assert max(seen) == 2, seen


def test_an_unreachable_database_is_one_line_without_the_dsn(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    settings = make_settings(
        tmp_path / "data",
        {
            "RELIATIC_STORAGE_DSN": f"postgresql://nobody:s3cr3t-pw@/x?host={tmp_path}",
            "RELIATIC_STORAGE_ADMIN_DSN": f"postgresql://nobody:s3cr3t-pw@/x?host={tmp_path}",
            "RELIATIC_STORAGE_BUSY_TIMEOUT_MS": "500",
        },
    )
    with pytest.raises(StorageUnusable) as caught:
        open_storage(settings)
    message = str(caught.value)
    assert "\n" not in message and "s3cr3t-pw" not in message
    assert message.startswith("cannot migrate the PostgreSQL database")


async def test_instants_and_dates_come_back_as_the_sqlite_backend_writes_them(
    client: TestClient,
) -> None:
    control = client.app[CONTROL_DB]
    assert isinstance(control, PgDatabase)
    row = await control.read(
        lambda tx: tx.cur.execute(
            "SELECT %s::timestamptz AS a, '2026-04-01 14:00:00.5+02'::timestamptz AS b,"
            " '2026-04-01'::date AS d, NULL::timestamptz AS n",
            ("2026-04-01T12:00:00.000001Z",),
        ).fetchone()
    )
    assert row == {
        "a": "2026-04-01T12:00:00.000001Z",
        "b": "2026-04-01T12:00:00.500000Z",
        "d": "2026-04-01",
        "n": None,
    }


async def test_removing_a_throwaway_tenant_removes_its_rows(
    client: TestClient, pg_cluster: PgCluster
) -> None:
    control = client.app[CONTROL_DB]
    data_dir = client.app[SETTINGS].data_dir
    now = utc_now()
    kept = await tenants.create_tenant(control, data_dir, slug="plant-a", by=Who("t"), now=now)
    gone = await tenants.create_tenant(
        control, data_dir, slug="selftest-0123abcd", by=Who("t"), now=now
    )
    act = Who("t").act("webhook.created", "webhook", "whk_1", {})
    for tenant in (kept, gone):
        db = await client.app[TENANT_DBS].get(tenant["id"])
        await db.write(lambda tx: record_tenant(tx, act, now=now))
        await control.write(lambda tx, t=tenant: record_control(tx, t["id"], act, now=now))
    await tenants.remove_throwaway_tenant(control, data_dir, "selftest-0123abcd", now=now)
    name = backend_env(data_dir)["RELIATIC_STORAGE_DSN"].split("/")[3].split("?")[0]
    # As the superuser, which row security does not limit: what is really left.
    left = pg_cluster.execute(
        "SELECT (SELECT count(*) FROM audit_log WHERE tenant_id = %(g)s)"
        " + (SELECT count(*) FROM audit_head WHERE tenant_id = %(g)s)"
        " + (SELECT count(*) FROM control_audit_log WHERE tenant_id = %(g)s)"
        " + (SELECT count(*) FROM tenants WHERE id = %(g)s),"
        " (SELECT count(*) FROM audit_log WHERE tenant_id = %(k)s)",
        {"g": gone["id"], "k": kept["id"]},
        dbname=name,
    )
    assert left == [(0, 1)]


@pytest.mark.parametrize(
    "command", [["backup", "--out", "x"], ["restore", "--from", "x"], ["check"]]
)
def test_file_commands_point_at_pg_dump(data_dir: Path, command: list[str]) -> None:
    result = cli(data_dir, *command)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "pg_dump" in lines[0] and "docs/postgresql.md" in lines[0]


async def test_a_key_revoked_by_the_cli_is_refused_by_the_running_server(
    aiohttp_client: Callable[..., Awaitable[TestClient]], data_dir: Path
) -> None:
    assert cli(data_dir, "tenant", "create", "acme").returncode == 0
    created = cli(
        data_dir, "key", "create", "--tenant", "acme", "--name", "k", "--level", "read_only",
        "--scope", "api_keys:read", "--json",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    record = json.loads(created.stdout)
    auth = {"Authorization": f"Bearer {record['key']}"}
    node = await aiohttp_client(create_app(make_settings(data_dir), run_scheduler=False))
    assert (await node.get("/api/v1/api-keys", headers=auth)).status == 200
    assert cli(data_dir, "key", "revoke", record["id"]).returncode == 0
    assert (await node.get("/api/v1/api-keys", headers=auth)).status == 401
