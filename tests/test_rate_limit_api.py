"""Rate limits on the real server (SPEC §4): per key, overrides, headers, 429, per address."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from reliatic_appliance.app import create_app
from reliatic_appliance.keys import CONTROL_DB
from reliatic_appliance.services import api_keys, tenants
from reliatic_appliance.services.audit import Who
from reliatic_appliance.timefmt import utc_now
from tests.conftest import make_settings


@pytest.fixture
async def limited(
    aiohttp_client: Callable[..., Awaitable[TestClient]], data_dir: Path
) -> TestClient:
    settings = make_settings(
        data_dir,
        {
            "RELIATIC_RATE_LIMIT_DEFAULT_PER_MINUTE": "5",
            "RELIATIC_RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE": "3",
        },
    )
    return await aiohttp_client(create_app(settings))


async def make_key(
    client: TestClient,
    slug: str = "acme",
    tenant_rate: int | None = None,
    key_rate: int | None = None,
) -> str:
    control = client.app[CONTROL_DB]
    tenant = await tenants.create_tenant(
        control,
        _data_dir(client),
        slug=slug,
        rate_limit_per_minute=tenant_rate,
        by=Who("test"),
        now=utc_now(),
    )
    _, key = await api_keys.create_key(
        control,
        tenant_id=tenant["id"],
        name="k",
        level="read_only",
        rate_limit_per_minute=key_rate,
        by=Who("test"),
        now=utc_now(),
    )
    return key


def _data_dir(client: TestClient) -> Path:
    from reliatic_appliance.keys import SETTINGS

    return client.app[SETTINGS].data_dir


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_per_key_limit_headers_and_429(limited: TestClient) -> None:
    key = await make_key(limited)
    remaining = []
    for _ in range(5):
        response = await limited.get("/api/v1/assets", headers=auth(key))
        assert response.status == 200
        assert response.headers["X-RateLimit-Limit"] == "5"
        remaining.append(int(response.headers["X-RateLimit-Remaining"]))
        reset = int(response.headers["X-RateLimit-Reset"])
    assert remaining == [4, 3, 2, 1, 0]
    response = await limited.get("/api/v1/assets", headers=auth(key))
    assert response.status == 429
    body = await response.json()
    assert body["error"] == "rate_limited"
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert int(response.headers["X-RateLimit-Reset"]) == reset
    assert response.headers["X-RateLimit-Remaining"] == "0"


async def test_keys_have_separate_windows(limited: TestClient) -> None:
    first = await make_key(limited)
    second = await make_key(limited, slug="globex")
    for _ in range(5):
        await limited.get("/api/v1/assets", headers=auth(first))
    assert (await limited.get("/api/v1/assets", headers=auth(first))).status == 429
    assert (await limited.get("/api/v1/assets", headers=auth(second))).status == 200


async def test_tenant_and_key_overrides(limited: TestClient) -> None:
    tenant_key = await make_key(limited, slug="big", tenant_rate=8)
    response = await limited.get("/api/v1/assets", headers=auth(tenant_key))
    assert response.headers["X-RateLimit-Limit"] == "8"
    own_key = await make_key(limited, slug="bigger", tenant_rate=8, key_rate=2)
    response = await limited.get("/api/v1/assets", headers=auth(own_key))
    assert response.headers["X-RateLimit-Limit"] == "2"


async def test_unauthenticated_traffic_limited_per_address(limited: TestClient) -> None:
    statuses = [(await limited.get("/healthz")).status for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = await limited.get("/healthz")
    assert response.headers["X-RateLimit-Limit"] == "3"
    assert "Retry-After" in response.headers


async def test_failed_auth_is_limited_per_address_then_429(limited: TestClient) -> None:
    bad = auth("rl_live_" + "x" * 43)
    statuses = [(await limited.get("/api/v1/assets", headers=bad)).status for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    # A valid key is counted on its own window, not the address's.
    key = await make_key(limited)
    assert (await limited.get("/api/v1/assets", headers=auth(key))).status == 200


async def test_every_response_has_rate_headers(limited: TestClient) -> None:
    key = await make_key(limited)
    for path, headers in [
        ("/api/v1/assets", auth(key)),
        ("/api/v1/assets/nope", auth(key)),
        ("/api/v1/assets", {}),
        ("/nowhere", {}),
    ]:
        response = await limited.get(path, headers=headers)
        for name in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
            assert name in response.headers, (path, name)


async def test_with_nodes_set_each_node_admits_its_share_and_the_sum_holds(
    aiohttp_client: Callable[..., Awaitable[TestClient]], data_dir: Path
) -> None:
    """SPEC §11: two nodes on one database, `[rate_limit] nodes = 2`, a key limited to 5 per
    minute: each node admits 2 (5 // 2), so however the requests are spread, at most 4 of 12
    pass, within the key's 5."""
    env = {
        "RELIATIC_RATE_LIMIT_DEFAULT_PER_MINUTE": "5",
        "RELIATIC_RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE": "3",
        "RELIATIC_RATE_LIMIT_NODES": "2",
    }
    first = await aiohttp_client(create_app(make_settings(data_dir, env)))
    second = await aiohttp_client(create_app(make_settings(data_dir, env)))
    key = await make_key(first)
    statuses = []
    for n in range(12):
        response = await (first, second)[n % 2].get("/api/v1/assets", headers=auth(key))
        assert response.headers["X-RateLimit-Limit"] == "2"  # this node's share
        statuses.append(response.status)
    assert statuses == [200, 200, 200, 200] + [429] * 8
    # Unauthenticated traffic too: 3 // 2 = 1 per node.
    assert [(await first.get("/healthz")).status for _ in range(2)] == [200, 429]
