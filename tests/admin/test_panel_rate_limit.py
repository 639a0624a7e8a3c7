"""Signed-in panel pages count against the user (the per-key budget), not the client
address: engineers behind one plant proxy must not share the anonymous per-address budget."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from reliatic_appliance.keys import SETTINGS
from reliatic_appliance.settings import Settings
from tests.admin.conftest import Panel
from tests.conftest import make_settings

ANONYMOUS_PER_MINUTE = 10


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    return make_settings(
        data_dir, {"RELIATIC_RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE": str(ANONYMOUS_PER_MINUTE)}
    )


async def test_signed_in_pages_count_against_the_user_not_the_address(panel: Panel) -> None:
    per_user = panel.client.app[SETTINGS].rate_limit.default_per_minute
    assert per_user > ANONYMOUS_PER_MINUTE + 5
    for _ in range(ANONYMOUS_PER_MINUTE + 5):
        response = await panel.client.get("/admin/")
        assert response.status == 200
    assert int(response.headers["X-RateLimit-Limit"]) == per_user
    async with aiohttp.ClientSession() as stranger:
        signed_out = await stranger.get(panel.url("/admin/login"))
        assert int(signed_out.headers["X-RateLimit-Limit"]) == ANONYMOUS_PER_MINUTE
        for _ in range(ANONYMOUS_PER_MINUTE):
            signed_out = await stranger.get(panel.url("/admin/login"))
        assert signed_out.status == 429
