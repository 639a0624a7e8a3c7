"""A key lists exactly what it can do (SPEC §4, issue 11): events and alerts are read-only,
so no key holds `events:write` or `alerts:write`, and asking for one is refused, over the
API and on the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

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
