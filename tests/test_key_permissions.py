"""A key lists exactly what it can do (SPEC §4, issue 11): events and alerts are read-only,
so no key holds `events:write` or `alerts:write`, and asking for one is refused, over the
API and on the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reliatic_appliance.storage.migrate import load_migrations
from reliatic_appliance.storage.sqlite import connect
from reliatic_appliance.storage.tenancy import migrate_file
from tests.conftest import Api
from tests.process import cli

READ_WRITE = [
    "actions:write",
    "alerts:read",
    "assets:write",
    "events:read",
    "failure_modes:write",
    "inspections:write",
    "mocs:write",
    "risk_assessments:write",
]


async def test_read_write_key_lists_exactly_what_it_can_do(api: Api) -> None:
    response = await api.post("/api/v1/api-keys", json={"name": "CMMS", "level": "read_write"})
    assert response.status == 201
    created = (await response.json())["data"]
    assert created["permissions"] == READ_WRITE
    listing = (await (await api.get("/api/v1/api-keys?per_page=100")).json())["data"]
    listed = next(item for item in listing if item["id"] == created["id"])
    assert listed["permissions"] == READ_WRITE
    # ... and can still read both read-only resources.
    for path in ("/api/v1/events", "/api/v1/alerts"):
        assert (await api.get(path, key=created["key"])).status == 200, path


@pytest.mark.parametrize("permission", ["events:write", "alerts:write"])
async def test_write_permission_on_a_read_only_resource_is_refused(
    api: Api, permission: str
) -> None:
    response = await api.post(
        "/api/v1/api-keys",
        json={"name": "x", "level": "read_write", "permissions": [permission]},
    )
    assert response.status == 400
    body = await response.json()
    assert body["error"] == "validation_error"
    assert body["details"][0]["field"] == "permissions.0"
    listing = (await (await api.get("/api/v1/api-keys")).json())["data"]
    assert len(listing) == 1  # only the test's own key: nothing was created


def test_cli_refuses_a_write_scope_on_a_read_only_resource(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    assert cli(data_dir, "init").returncode == 0
    assert cli(data_dir, "tenant", "create", "acme").returncode == 0
    args = ["--name", "k", "--level", "read_write", "--scope", "events:write"]
    result = cli(data_dir, "key", "create", "--tenant", "acme", *args)
    assert result.returncode == 1, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("reliatic: error:"), result.stderr
    assert "events:write does not exist" in lines[0] and "events:read" in lines[0]
    assert result.stdout == ""
    assert cli(data_dir, "key", "list", "--tenant", "acme", "--json").stdout.strip() == "[]"


@pytest.mark.sqlite_only(reason="migrates a control.db of the previous release")
def test_keys_minted_before_lose_the_write_permissions_that_never_existed(
    tmp_path: Path,
) -> None:
    """control.db of the previous release (schema version 1), migrated at start."""
    path = tmp_path / "control.db"
    conn = connect(path)
    try:
        conn.execute(load_migrations("control")[0].sql)
        conn.execute("PRAGMA user_version = 1")
        conn.execute(
            "INSERT INTO tenants (id, slug, name, created_at, updated_at)"
            " VALUES ('ten_1', 'acme', 'Acme', 'now', 'now')"
        )
        legacy_read_write = sorted(
            [p for p in READ_WRITE if p not in ("alerts:read", "events:read")]
            + ["alerts:write", "events:write"]
        )
        keys = {
            "key_rw": ("read_write", legacy_read_write),
            "key_events": ("read_write", ["events:write", "webhooks:read"]),
            "key_ro": ("read_only", ["assets:read", "events:read"]),
        }
        for key_id, (level, permissions) in keys.items():
            conn.execute(
                "INSERT INTO api_keys (id, tenant_id, name, prefix, key_hash, level,"
                " permissions, created_at)"
                " VALUES (?, 'ten_1', 'k', 'rl_live_xxxx', ?, ?, ?, 'now')",
                (key_id, key_id.encode(), level, json.dumps(permissions)),
            )
    finally:
        conn.close()
    migrate_file(path, "control")
    conn = connect(path)
    try:
        rows = conn.execute("SELECT id, permissions FROM api_keys").fetchall()
    finally:
        conn.close()
    found = {row["id"]: json.loads(row["permissions"]) for row in rows}
    assert found == {
        "key_rw": READ_WRITE,
        "key_events": ["events:read", "webhooks:read"],
        "key_ro": ["assets:read", "events:read"],
    }
