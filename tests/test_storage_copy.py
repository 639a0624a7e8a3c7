"""`reliatic storage copy --to postgresql://…` (SPEC §11 "Moving up"): a data dir the real
server wrote on SQLite, copied by the real command into a throwaway PostgreSQL database made by
the backend's own migrations, and the verification that proves (or refutes) the copy.

The source is always SQLite, whatever `--backend` the session runs; the target is always the
session's PostgreSQL cluster (tests/pg_cluster.py), so these tests skip only without it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import apsw
import psycopg
import pytest
from aiohttp.test_utils import TestClient

from reliatic_appliance.api.auth import SESSION_COOKIE
from reliatic_appliance.app import create_app
from reliatic_appliance.keys import CONTROL_DB, PASSWORD_HASHER, TENANT_DBS
from reliatic_appliance.services import audit, users
from reliatic_appliance.services.audit import Who
from reliatic_appliance.settings import load_settings
from reliatic_appliance.storage.layout import initialise
from reliatic_appliance.timefmt import utc_now
from tests.conftest import TEST_ENV, Api, create_asset, open_api
from tests.pg_cluster import Database, PgCluster
from tests.process import CLI, cli_json, tenant_server
from tests.resources import ADMIN_SCOPES, seed_all
from tests.sessions_support import cookie_of
from tests.test_webhooks import verify
from tests.webhook_receiver import Receiver, wait_for

PASSWORD = "correct horse battery staple"
IDEMPOTENT = {"Idempotency-Key": "order-4711-create"}


@dataclass
class Source:
    data_dir: Path
    acme: Api
    ids: dict[str, str]


def copy_cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The command as an operator runs it; the data dir is SQLite whatever the session's
    backend (no RELIATIC_STORAGE_* in the environment)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELIATIC_")}
    return subprocess.run(
        [*CLI, "--data-dir", str(data_dir), "storage", "copy", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )


def sqlite_rows(path: Path, query: str) -> list[tuple[Any, ...]]:
    conn = apsw.Connection(str(path), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        return list(conn.execute(query))
    finally:
        conn.close()


def pg_rows(dsn: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return list(conn.execute(query, params).fetchall())


@pytest.fixture
def target(pg_cluster: PgCluster) -> Iterator[Database]:
    database = pg_cluster.clone()
    try:
        yield database
    finally:
        pg_cluster.drop(database)


async def _serve(
    aiohttp_client: Callable[..., Awaitable[TestClient]], data_dir: Path
) -> TestClient:
    # SQLite: the settings carry none of the session's RELIATIC_STORAGE_* variables.
    settings = load_settings(data_dir=data_dir, config_file=None, env=TEST_ENV)
    return await aiohttp_client(create_app(settings))


async def _fill(client: TestClient) -> tuple[Api, dict[str, str]]:
    """What the brief names: tenants, keys, assets, inspections, a webhook with a pending
    delivery, an idempotent POST; users, a session and an invitation on the control side."""
    acme = await open_api(client, ADMIN_SCOPES)
    ids = await seed_all(acme)
    first = await acme.post(
        "/api/v1/assets",
        json={"tag_number": "P-7", "name": "Feed pump", "asset_type": "rotating"},
        headers=IDEMPOTENT,
    )
    assert first.status == 201, await first.text()
    beta = await open_api(client, ["webhooks:read", "webhooks:write"], slug="beta")
    tank = await create_asset(beta, tag_number="T-1", description="Crude tank, ünïcode")
    # SQLite's count triggers now hold (active, vessel) at 0; the target's hold no such row.
    moved = await beta.put(f"/api/v1/assets/{tank['id']}", json={"status": "inactive"})
    assert moved.status == 200, await moved.text()
    control, hasher = client.app[CONTROL_DB], client.app[PASSWORD_HASHER]
    await users.create_user(
        control,
        hasher,
        tenant_id=acme.tenant["id"],
        email="ann@acme.example",
        role="admin",
        password=PASSWORD,
        by=Who("test"),
        now=utc_now(),
    )
    await users.invite(
        control,
        tenant_id=acme.tenant["id"],
        role="engineer",
        email=None,
        by=Who("test"),
        now=utc_now(),
    )
    login = await client.post(
        "/auth/login", json={"email": "ann@acme.example", "password": PASSWORD}
    )
    assert login.status in (200, 204, 303), await login.text()
    return acme, ids


@pytest.fixture
async def source(
    aiohttp_client: Callable[..., Awaitable[TestClient]], tmp_path: Path
) -> AsyncIterator[Source]:
    """A data dir written by the real server, which is then stopped."""
    data_dir = tmp_path / "data"
    initialise(data_dir)
    client = await _serve(aiohttp_client, data_dir)
    acme, ids = await _fill(client)
    await client.close()  # the server stops: the data dir is free to copy
    yield Source(data_dir, acme, ids)


def tenant_file(source: Source) -> Path:
    return source.data_dir / "tenants" / f"{source.acme.tenant['id']}.db"


def test_copy_moves_every_table_and_verifies_it(source: Source, target: Database) -> None:
    result = copy_cli(source.data_dir, "--to", target.admin_dsn, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["committed"] and report["ok"]
    assert report["tenants"] == 2
    by_table = {t["table"]: t for t in report["tables"]}
    assert all(t["ok"] and t["checksum"] == t["target_checksum"] for t in by_table.values())
    # Every table there is, with the rows SQLite holds: counted here independently.
    control = source.data_dir / "control.db"
    expected = {
        "tenants": sqlite_rows(control, "SELECT count(*) FROM tenants")[0][0],
        "api_keys": sqlite_rows(control, "SELECT count(*) FROM api_keys")[0][0],
        "users": 1,
        "sessions": 1,
        "invitations": 1,
        "control_audit_log": sqlite_rows(control, "SELECT count(*) FROM audit_log")[0][0],
    }
    for table in (
        "assets",
        "inspections",
        "events",
        "webhooks",
        "webhook_deliveries",
        "idempotency_keys",
        "audit_log",
        "alerts",
        "actions",
        "mocs",
    ):
        expected[table] = sum(
            sqlite_rows(path, f"SELECT count(*) FROM {table}")[0][0]
            for path in (source.data_dir / "tenants").glob("*.db")
        )
    for table, count in expected.items():
        assert by_table[table]["rows"] == count > 0, table
        assert (
            pg_rows(
                target.admin_dsn.replace("reliatic_owner", "postgres"),
                f"SELECT count(*) FROM {table}",
            )[0][0]
            == count
        ), table
    assert "master key was not copied" in report["master_key"]
    # The counts the target's trigger made are compared with SQLite's, not copied twice.
    assert len(report["built_by_target"]) == 2 and by_table["asset_counts"]["ok"]
    zero = sqlite_rows(
        source.data_dir / "tenants" / f"{beta_id(source)}.db",
        "SELECT count(*) FROM asset_counts WHERE n = 0",
    )
    assert zero == [(1,)]

    su = target.admin_dsn.replace("reliatic_owner", "postgres")
    # Hashes and sealed secrets: the same bytes.
    assert sorted(pg_rows(su, "SELECT id, key_hash FROM api_keys")) == sorted(
        (i, bytes(h)) for i, h in sqlite_rows(control, "SELECT id, key_hash FROM api_keys")
    )
    acme_file = tenant_file(source)
    assert (
        pg_rows(su, "SELECT secret_enc FROM webhooks WHERE id = %s", source.ids["webhook_id"])[0][0]
        == sqlite_rows(acme_file, "SELECT secret_enc FROM webhooks")[0][0]
    )
    # The pending delivery is still pending; the audit chains' hashes are unchanged.
    assert pg_rows(
        su, "SELECT status FROM webhook_deliveries WHERE id = %s", source.ids["delivery_id"]
    ) == [("pending",)]
    assert sorted(pg_rows(su, "SELECT seq, hash FROM control_audit_log")) == sorted(
        sqlite_rows(control, "SELECT seq, hash FROM audit_log")
    )
    # New events go on after every copied id.
    top = pg_rows(su, "SELECT max(id) FROM events")[0][0]
    assert pg_rows(su, "SELECT last_value FROM events_id_seq")[0][0] >= top
    # Row security is back in force on every tenant table.
    assert pg_rows(
        su,
        "SELECT count(*) FROM pg_class WHERE relrowsecurity"
        " AND NOT relforcerowsecurity AND relnamespace = 'public'::regnamespace",
    ) == [(0,)]
    # Vacuumed and analyzed after the commit: the servers' first queries are planned on
    # statistics, not on guesses until autovacuum comes round.
    assert pg_rows(
        su,
        "SELECT count(*) FROM pg_stat_user_tables"
        " WHERE relname IN ('assets', 'inspections', 'events')"
        " AND last_vacuum IS NOT NULL AND last_analyze IS NOT NULL",
    ) == [(3,)]

    human = copy_cli(source.data_dir, "--to", target.admin_dsn, "--verify-only")
    assert human.returncode == 0, human.stderr
    assert human.stdout.splitlines()[0].split() == ["table", "rows", "checksum", "ok"]
    assert "assets" in human.stdout and "DIFFERS" not in human.stdout


def test_a_tampered_row_fails_verification(source: Source, target: Database) -> None:
    assert copy_cli(source.data_dir, "--to", target.admin_dsn).returncode == 0
    su = target.admin_dsn.replace("reliatic_owner", "postgres")
    with psycopg.connect(su) as conn:
        conn.execute("UPDATE assets SET name = 'HP Separator ' WHERE tag_number = 'V-101'")
    result = copy_cli(source.data_dir, "--to", target.admin_dsn, "--verify-only", "--json")
    assert result.returncode == 1
    assert "1 table(s) differ" in result.stderr and "(assets)" in result.stderr
    bad = [t for t in json.loads(result.stdout)["tables"] if not t["ok"]]
    assert [(t["table"], t["differing"]) for t in bad] == [
        ("assets", [f"tenants/{source.acme.tenant['id']}.db"])
    ]


def test_a_non_empty_target_is_refused(source: Source, target: Database) -> None:
    assert copy_cli(source.data_dir, "--to", target.admin_dsn).returncode == 0
    su = target.admin_dsn.replace("reliatic_owner", "postgres")
    before = pg_rows(su, "SELECT count(*) FROM assets")
    again = copy_cli(source.data_dir, "--to", target.admin_dsn)
    assert again.returncode == 1
    assert "the target is not empty" in again.stderr and len(again.stderr.splitlines()) == 1
    assert pg_rows(su, "SELECT count(*) FROM assets") == before


async def test_a_running_servers_data_dir_is_refused(
    aiohttp_client: Callable[..., Awaitable[TestClient]], tmp_path: Path, target: Database
) -> None:
    data_dir = tmp_path / "data"
    initialise(data_dir)
    client = await _serve(aiohttp_client, data_dir)
    await open_api(client, ADMIN_SCOPES)
    result = copy_cli(data_dir, "--to", target.admin_dsn)
    assert result.returncode == 1
    assert "in use by a running server" in result.stderr
    su = target.admin_dsn.replace("reliatic_owner", "postgres")
    assert pg_rows(
        su, "SELECT to_regclass('tenants') IS NULL OR NOT EXISTS (SELECT 1 FROM tenants)"
    ) == [(True,)]


def test_a_failing_copy_leaves_the_target_untouched(source: Source, target: Database) -> None:
    # An inspection of an asset that does not exist: SQLite took it (foreign keys off for
    # this connection), PostgreSQL's (tenant_id, asset_id) foreign key refuses it mid-copy.
    conn = apsw.Connection(str(tenant_file(source)))
    conn.execute(
        "INSERT INTO inspections (id, asset_id, inspection_type, inspection_date,"
        " inspector_name, effectiveness, created_at, updated_at) SELECT 'ins_orphan',"
        " 'ast_nowhere', inspection_type, inspection_date, inspector_name, effectiveness,"
        " created_at, updated_at FROM inspections LIMIT 1"
    )
    conn.close()
    result = copy_cli(source.data_dir, "--to", target.admin_dsn)
    assert result.returncode == 1
    assert "nothing was written" in result.stderr, result.stderr
    su = target.admin_dsn.replace("reliatic_owner", "postgres")
    assert pg_rows(
        su,
        "SELECT (SELECT count(*) FROM tenants) + (SELECT count(*) FROM assets)"
        " + (SELECT count(*) FROM events)",
    ) == [(0,)]
    assert pg_rows(
        su,
        "SELECT bool_and(relforcerowsecurity) FROM pg_class WHERE"
        " relname IN ('assets', 'events', 'inspections')",
    ) == [(True,)]


def test_a_table_the_target_lacks_is_refused_by_name(source: Source, target: Database) -> None:
    conn = apsw.Connection(str(tenant_file(source)))
    conn.execute("CREATE TABLE mystery (id TEXT PRIMARY KEY)")
    conn.close()
    result = copy_cli(source.data_dir, "--to", target.admin_dsn)
    assert result.returncode == 1
    assert "table mystery has no table 'mystery' in the target" in result.stderr


HOOK_ENV = {
    **TEST_ENV,
    "RELIATIC_WEBHOOKS_ALLOW_HTTP": "true",
    "RELIATIC_WEBHOOKS_ALLOW_LOOPBACK_TARGETS": "true",
}


async def test_after_the_copy_the_same_key_works_and_the_pending_delivery_goes_out(
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    tmp_path: Path,
    target: Database,
    receiver: Receiver,
) -> None:
    """The end to end of SPEC §11 "Moving up": the PostgreSQL-backed server over the copy
    and the data dir's secret/, with nothing else carried over."""
    data_dir = tmp_path / "data"
    initialise(data_dir)
    # No scheduler: the delivery the asset queues is still pending when the server stops.
    sqlite = load_settings(data_dir=data_dir, config_file=None, env=HOOK_ENV)
    client = await aiohttp_client(create_app(sqlite, run_scheduler=False))
    acme = await open_api(client, ADMIN_SCOPES)
    made = await acme.post(
        "/api/v1/webhooks", json={"url": receiver.url("/moved"), "events": ["asset.created"]}
    )
    assert made.status == 201, await made.text()
    hook = (await made.json())["data"]
    asset = await create_asset(acme)
    await users.create_user(
        client.app[CONTROL_DB],
        client.app[PASSWORD_HASHER],
        tenant_id=acme.tenant["id"],
        email="ann@acme.example",
        role="admin",
        password=PASSWORD,
        by=Who("test"),
        now=utc_now(),
    )
    login = await client.post(
        "/auth/login", json={"email": "ann@acme.example", "password": PASSWORD}
    )
    assert login.status == 200, await login.text()
    session = {"Cookie": f"{SESSION_COOKIE}={cookie_of(login)}"}
    await client.close()
    assert sqlite_rows(tenant_file_of(data_dir, acme), "SELECT status FROM webhook_deliveries") == [
        ("pending",)
    ]

    copied = copy_cli(data_dir, "--to", target.admin_dsn)
    assert copied.returncode == 0, copied.stderr

    on_pg = load_settings(
        data_dir=data_dir,
        config_file=None,
        env={
            **HOOK_ENV,
            "RELIATIC_STORAGE_BACKEND": "postgresql",
            "RELIATIC_STORAGE_DSN": target.dsn,
            "RELIATIC_STORAGE_ADMIN_DSN": target.admin_dsn,
        },
    )
    moved = await aiohttp_client(create_app(on_pg))
    acme.client = moved
    listed = await acme.get(f"/api/v1/assets/{asset['id']}")
    assert listed.status == 200, await listed.text()
    # The admin's session goes on, and the password (its argon2id hash) still logs in.
    moved.session.cookie_jar.clear()
    page = await moved.get("/admin/assets", headers=session, allow_redirects=False)
    assert page.status == 200, page.headers.get("Location")
    anonymous = await moved.get("/admin/assets", allow_redirects=False)
    assert anonymous.status in (302, 303), anonymous.status
    again = await moved.post(
        "/auth/login", json={"email": "ann@acme.example", "password": PASSWORD}
    )
    assert again.status == 200, await again.text()
    # Both audit chains walk clean on PostgreSQL: every copied hash recomputes from the rows
    # as the PostgreSQL stores read them back.
    tenant_id = acme.tenant["id"]
    check = await audit.verify(
        moved.app[CONTROL_DB], await moved.app[TENANT_DBS].get(tenant_id), tenant_id
    )
    assert check.ok and all(c.checked > 0 for c in check.chains), check.problems()
    await wait_for(lambda: len(receiver.on("/moved")) == 1, within=30)
    payload = verify(receiver.on("/moved")[0], hook["secret"])  # the sealed secret, unsealed
    assert payload["type"] == "asset.created" and payload["resource"]["id"] == asset["id"]
    # New events go on after the copied ones, in the feed the integrations follow.
    before = (await (await acme.get("/api/v1/events")).json())["data"]
    await create_asset(acme, tag_number="V-102")
    after = (await (await acme.get("/api/v1/events")).json())["data"]
    assert len(after) == len(before) + 1
    await wait_for(lambda: len(receiver.on("/moved")) == 2, within=30)


def tenant_file_of(data_dir: Path, api: Api) -> Path:
    return data_dir / "tenants" / f"{api.tenant['id']}.db"


def test_the_servers_role_is_refused_with_the_reason(source: Source, target: Database) -> None:
    """The server's role may not COPY under row security, nor migrate: the owner it is."""
    result = copy_cli(source.data_dir, "--to", target.dsn)
    assert result.returncode == 1
    assert "admin_dsn" in result.stderr and len(result.stderr.splitlines()) == 1, result.stderr
    su = target.admin_dsn.replace("reliatic_owner", "postgres")
    assert pg_rows(su, "SELECT count(*) FROM tenants") == [(0,)]


def test_no_command_needs_the_postgresql_driver_to_start() -> None:
    """psycopg is the optional `postgresql` extra: registering `storage copy` imports none."""
    probe = (
        "import sys; import reliatic_appliance.cli.main as m; m.build_parser();"
        " print(sorted(n for n in sys.modules if n.startswith('psycopg')))"
    )
    result = subprocess.run(
        [CLI[0], "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "[]\n"


def beta_id(source: Source) -> str:
    control = source.data_dir / "control.db"
    return str(sqlite_rows(control, "SELECT id FROM tenants WHERE slug = 'beta'")[0][0])


def test_a_malformed_target_is_named_without_echoing_it(source: Source) -> None:
    result = copy_cli(source.data_dir, "--to", "s3cret-word host=db")
    assert result.returncode == 1
    assert "not a PostgreSQL connection string" in result.stderr
    assert "s3cret" not in result.stderr + result.stdout


@pytest.mark.sqlite_only(
    reason="the killed server is a SQLite one; its process helpers follow the session's backend"
)
def test_a_killed_servers_data_dir_copies_with_its_acknowledged_writes(
    tmp_path: Path, target: Database
) -> None:
    """kill -9 leaves the last writes in the WAL, unmerged: the copy reads them too."""
    data_dir = tmp_path / "data"
    with tenant_server(data_dir, {}) as server:
        key = cli_json(
            data_dir, "key", "create", "--tenant", "acme", "--name", "k", "--level", "read_write"
        )["key"]
        for tag in ("V-1", "V-2", "V-3"):
            body = {"tag_number": tag, "name": "Drum", "asset_type": "vessel"}
            status, _, _ = server.request("POST", "/api/v1/assets", key=key, body=body)
            assert status == 201
        server.stop(signal.SIGKILL)
    wal = next((data_dir / "tenants").glob("*.db-wal"))
    assert wal.stat().st_size > 0  # not checkpointed: the rows live in the WAL
    result = copy_cli(data_dir, "--to", target.admin_dsn, "--json")
    assert result.returncode == 0, result.stderr
    tables = {t["table"]: t for t in json.loads(result.stdout)["tables"]}
    assert tables["assets"]["rows"] == 3 and tables["assets"]["ok"]
    su = target.admin_dsn.replace("reliatic_owner", "postgres")
    assert pg_rows(su, "SELECT tag_number FROM assets ORDER BY 1") == [("V-1",), ("V-2",), ("V-3",)]


def test_a_column_the_target_lacks_is_refused_by_name(source: Source, target: Database) -> None:
    conn = apsw.Connection(str(tenant_file(source)))
    conn.execute("ALTER TABLE assets ADD COLUMN colour TEXT")
    conn.close()
    result = copy_cli(source.data_dir, "--to", target.admin_dsn)
    assert result.returncode == 1
    assert "table assets: the target table assets has no column 'colour'" in result.stderr
