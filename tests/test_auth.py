"""Authentication and permissions (SPEC §4) against the real server."""

from __future__ import annotations

import asyncio
import hashlib
import re
from datetime import UTC, datetime, timedelta

import pytest

from reliatic_appliance.keys import CONTROL_DB
from reliatic_appliance.services import api_keys, tenants
from reliatic_appliance.services.audit import Who
from reliatic_appliance.timefmt import utc_now
from tests import rawsql
from tests.conftest import ASSET, Api, create_asset

INVALID_KEY_BODY = {
    "error": "invalid_api_key",
    "message": "The provided API key is invalid or has been revoked.",
    "details": [],
}


async def test_missing_header_is_unauthorized(api: Api) -> None:
    response = await api.client.get("/api/v1/assets")
    assert response.status == 401
    body = await response.json()
    assert body["error"] == "unauthorized" and body["details"] == []


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("Basic dXNlcjpwYXNz", id="basic"),
        pytest.param("Bearer", id="no-token"),
        pytest.param("rl_live_abc", id="no-scheme"),
        pytest.param("Bearer a b", id="two-tokens"),
    ],
)
async def test_malformed_header_is_unauthorized(api: Api, header: str) -> None:
    response = await api.client.get("/api/v1/assets", headers={"Authorization": header})
    assert response.status == 401
    assert (await response.json())["error"] == "unauthorized"


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("rl_live_" + "A" * 43, id="unknown"),
        pytest.param("sk_live_" + "A" * 43, id="wrong-prefix"),
        pytest.param("rl_live_short", id="too-short"),
    ],
)
async def test_unknown_key_gets_exact_body(api: Api, token: str) -> None:
    response = await api.client.get("/api/v1/assets", headers={"Authorization": f"Bearer {token}"})
    assert response.status == 401
    assert await response.json() == INVALID_KEY_BODY


async def test_key_format_and_storage(api: Api) -> None:
    assert re.fullmatch(r"rl_live_[A-Za-z0-9_-]{43}", api.key)
    control = api.client.app[CONTROL_DB]
    stored = await rawsql.row(control, "SELECT * FROM api_keys WHERE id = ?", (api.key_id,))
    assert stored is not None
    assert stored["key_hash"] == hashlib.sha256(api.key.encode()).digest()
    assert api.key not in repr(stored)
    assert stored["prefix"] == api.key[:12]


async def test_revoked_key_refused_on_next_request(api: Api) -> None:
    key, key_id = await api.new_key()
    assert (await api.get("/api/v1/assets", key=key)).status == 200
    await api_keys.revoke_key(
        api.client.app[CONTROL_DB], key_id, tenant_id=None, by=Who("test"), now=utc_now()
    )
    response = await api.get("/api/v1/assets", key=key)
    assert response.status == 401
    assert await response.json() == INVALID_KEY_BODY


async def test_expired_key_refused(api: Api) -> None:
    soon = datetime.now(UTC) + timedelta(seconds=1)
    key, _ = await api.new_key(expires_at=soon)
    assert (await api.get("/api/v1/assets", key=key)).status == 200
    await asyncio.sleep(max(0.0, (soon - datetime.now(UTC)).total_seconds()) + 0.05)
    assert await (await api.get("/api/v1/assets", key=key)).json() == INVALID_KEY_BODY


async def test_disabled_tenant_keys_refused(api: Api) -> None:
    await tenants.disable_tenant(api.client.app[CONTROL_DB], "acme", by=Who("test"), now=utc_now())
    assert await (await api.get("/api/v1/assets")).json() == INVALID_KEY_BODY


async def test_last_used_at_is_recorded(api: Api) -> None:
    key, key_id = await api.new_key()
    control = api.client.app[CONTROL_DB]

    async def last_used() -> str | None:
        found = await rawsql.row(control, "SELECT last_used_at FROM api_keys WHERE id=?", (key_id,))
        assert found is not None
        return found["last_used_at"]

    assert await last_used() is None
    before = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M")
    await api.get("/api/v1/assets", key=key)
    used = await last_used()
    assert used is not None and used >= before


async def test_read_only_key_can_read_not_write(api: Api) -> None:
    key, _ = await api.new_key("read_only")
    assert (await api.get("/api/v1/assets", key=key)).status == 200
    response = await api.post("/api/v1/assets", key=key, json=ASSET)
    assert response.status == 403
    assert await response.json() == {
        "error": "forbidden",
        "message": "API key lacks required permission: assets:write",
        "details": [],
    }
    assert (await (await api.get("/api/v1/assets")).json())["meta"]["total"] == 0


async def test_scopes_narrow_a_key(api: Api) -> None:
    key, _ = await api.new_key("read_write", ["inspections:write"])
    response = await api.get("/api/v1/assets", key=key)
    assert response.status == 403
    assert (await response.json())["message"] == "API key lacks required permission: assets:read"


async def test_write_scope_includes_read(api: Api) -> None:
    key, _ = await api.new_key("read_write", ["assets:write"])
    assert (await api.get("/api/v1/assets", key=key)).status == 200
    assert (await api.post("/api/v1/assets", key=key, json=ASSET)).status == 201


async def test_admin_permissions_only_when_explicit(api: Api) -> None:
    key, _ = await api.new_key("read_write")
    response = await api.get("/api/v1/api-keys", key=key)
    assert response.status == 403
    assert (await response.json())["message"] == "API key lacks required permission: api_keys:read"


async def test_other_tenants_ids_are_plain_404(api: Api) -> None:
    mine = await create_asset(api)
    other_tenant = await api.new_tenant("globex")
    other_key, _ = await api.new_key(tenant=other_tenant)
    theirs = await api.post("/api/v1/assets", key=other_key, json={**ASSET, "tag_number": "X-1"})
    theirs_id = (await theirs.json())["data"]["id"]
    for method in ("GET", "PUT", "DELETE"):
        kwargs = {"json": {"name": "stolen"}} if method == "PUT" else {}
        response = await api.request(method, f"/api/v1/assets/{theirs_id}", **kwargs)
        assert response.status == 404, method
        assert (await response.json())["error"] == "not_found"
    # Same tag in another tenant is fine: uniqueness is per tenant.
    again = await api.post("/api/v1/assets", key=other_key, json=ASSET)
    assert again.status == 201
    listing = await (await api.get("/api/v1/assets")).json()
    assert [a["id"] for a in listing["data"]] == [mine["id"]]
    theirs_after = await (await api.get(f"/api/v1/assets/{theirs_id}", key=other_key)).json()
    assert theirs_after["data"]["name"] == ASSET["name"]
