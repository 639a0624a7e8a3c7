"""The login throttle (SPEC §4): 10 failures in 15 minutes per account or per address, then
429 with Retry-After, even for the right password."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from reliatic_appliance.keys import LOGIN_ACCOUNT_THROTTLE
from tests.sessions_support import (
    PASSWORD,
    Panel,
    open_panel,
)


@pytest.fixture
async def panel(aiohttp_client: Callable[..., Awaitable[TestClient]], data_dir: Path) -> Panel:
    return await open_panel(aiohttp_client, data_dir)


async def test_ten_failures_from_an_address_throttle_even_the_right_password(
    panel: Panel,
) -> None:
    for n in range(10):  # ten different accounts, one address
        failed = await panel.login(f"guess{n}@acme.example", "wrong password")
        assert failed.status == 401
    throttled = await panel.login("ann@acme.example", PASSWORD)
    assert throttled.status == 429
    body = await throttled.json()
    assert body["error"] == "rate_limited"
    wait = int(throttled.headers["Retry-After"])
    assert 1 <= wait <= 15 * 60
    assert "Set-Cookie" not in throttled.headers
    form = await panel.client.post(
        "/auth/login",
        data={"email": "ann@acme.example", "password": PASSWORD},
        allow_redirects=False,
    )
    assert form.status == 303 and form.headers["Location"] == "/admin/login?error=throttled"
    panel.clock.advance(seconds=wait)
    assert (await panel.login("ann@acme.example", PASSWORD)).status == 200


async def test_ten_failures_for_an_account_throttle_it_from_any_address(panel: Panel) -> None:
    # Nine failures made elsewhere (the test client has one address, so they are counted
    # straight into the account's window), then the tenth from here.
    throttle = panel.client.app[LOGIN_ACCOUNT_THROTTLE]
    for _ in range(9):
        throttle.hit("ann@acme.example", 10)
    assert (await panel.login("ANN@acme.example", "wrong password")).status == 401
    throttled = await panel.login("ann@acme.example", PASSWORD)
    assert throttled.status == 429 and "Retry-After" in throttled.headers
    # Another account from the same address (one failure so far) is not held back.
    assert (await panel.login("eve@acme.example", PASSWORD)).status == 200


async def test_nine_failures_do_not_throttle(panel: Panel) -> None:
    for _ in range(9):
        assert (await panel.login("ann@acme.example", "wrong password")).status == 401
    assert (await panel.login("ann@acme.example", PASSWORD)).status == 200


async def test_on_two_nodes_each_admits_half_so_the_sum_holds(
    aiohttp_client: Callable[..., Awaitable[TestClient]], data_dir: Path
) -> None:
    # `[rate_limit] nodes = 2` (SPEC §11): a guesser who spreads attempts over two nodes gets
    # five failures on each, ten in all, as on one node.
    node = await open_panel(aiohttp_client, data_dir, {"RELIATIC_RATE_LIMIT_NODES": "2"})
    for n in range(5):
        assert (await node.login(f"guess{n}@acme.example", "wrong password")).status == 401
    throttled = await node.login("ann@acme.example", PASSWORD)
    assert throttled.status == 429
    assert (await throttled.json())["error"] == "rate_limited"
