"""Key management over the API (SPEC §4): list masked, create once, revoke."""

from __future__ import annotations

from tests.conftest import Api


async def test_create_shows_key_once_and_it_works(api: Api) -> None:
    response = await api.post("/api/v1/api-keys", json={"name": "SAP PM", "level": "read_only"})
    assert response.status == 201
    assert response.headers["Cache-Control"] == "no-store"
    created = (await response.json())["data"]
    key = created["key"]
    assert key.startswith("rl_live_") and created["prefix"] == key[:12]
    assert "assets:read" in created["permissions"]
    assert (await api.get("/api/v1/assets", key=key)).status == 200
    listing = await (await api.get("/api/v1/api-keys")).json()
    assert listing["meta"]["total"] == 2
    assert all("key" not in item for item in listing["data"])
    assert key not in str(listing)
    mine = next(i for i in listing["data"] if i["id"] == created["id"])
    assert mine["prefix"] == key[:12] and mine["revoked_at"] is None


async def test_revoke_over_api(api: Api) -> None:
    created = (
        await (await api.post("/api/v1/api-keys", json={"name": "x", "level": "read_only"})).json()
    )["data"]
    response = await api.delete(f"/api/v1/api-keys/{created['id']}")
    assert response.status == 200
    assert (await response.json())["data"]["revoked_at"] is not None
    assert (await api.get("/api/v1/assets", key=created["key"])).status == 401
    missing = await api.delete("/api/v1/api-keys/key_01ZZZZZZZZZZZZZZZZZZZZZZZZ")
    assert missing.status == 404


async def test_cannot_mint_wider_key_than_itself(api: Api) -> None:
    response = await api.post(
        "/api/v1/api-keys",
        json={"name": "escalate", "level": "read_write", "permissions": ["webhooks:write"]},
    )
    assert response.status == 403
    assert "webhooks:write" in (await response.json())["message"]


async def test_scope_beyond_level_is_validation_error(api: Api) -> None:
    response = await api.post(
        "/api/v1/api-keys",
        json={"name": "x", "level": "read_only", "permissions": ["assets:write"]},
    )
    assert response.status == 400
    assert (await response.json())["details"][0]["field"] == "permissions"


async def test_expiry_must_be_future_and_zoned(api: Api) -> None:
    for value in ("2001-01-01T00:00:00Z", "2999-01-01T00:00:00"):
        response = await api.post(
            "/api/v1/api-keys", json={"name": "x", "level": "read_only", "expires_at": value}
        )
        assert response.status == 400, value
        assert (await response.json())["details"][0]["field"] == "expires_at"


async def test_other_tenants_key_cannot_be_revoked(api: Api) -> None:
    other = await api.new_tenant("globex")
    _, other_key_id = await api.new_key(tenant=other)
    response = await api.delete(f"/api/v1/api-keys/{other_key_id}")
    assert response.status == 404
