"""The `search` index merges its segments in the scheduler, at every tick, not inside each
write (migration 0010): a write adds a segment, the scheduler merges them, and every asset is
found by `search` before and after."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from reliatic_appliance.app import create_app
from reliatic_appliance.keys import SCHEDULER, TENANT_DBS
from reliatic_appliance.scheduler import housekeeping
from reliatic_appliance.services.assets import tidy_search_index
from tests.conftest import Api, create_asset, make_settings, open_api, tenant_sql

pytestmark = pytest.mark.sqlite_only(reason="the segments of SQLite's FTS5 index")

# More single-asset writes than FTS5's 'crisismerge' (16): level 0 fills and is merged once
# by FTS5 itself, so what is left to merge is the scheduler's.
WRITES = 40


@pytest.fixture
async def quiet_api(aiohttp_client: Callable[..., Awaitable[TestClient]], data_dir: Path) -> Api:
    """A server whose scheduler does not tick: the index is merged when the test says, as
    the scheduler merges it for each tenant."""
    app = create_app(make_settings(data_dir), run_scheduler=False)
    return await open_api(await aiohttp_client(app), [])


async def segments(api: Api) -> int:
    rows = await tenant_sql(api, "SELECT COUNT(DISTINCT segid) AS n FROM asset_search_idx")
    return int(rows[0]["n"])


async def found(api: Api, term: str) -> list[str]:
    response = await api.get("/api/v1/assets", params={"search": term, "per_page": "100"})
    assert response.status == 200
    return [a["tag_number"] for a in (await response.json())["data"]]


async def test_writes_leave_segments_that_the_scheduler_merges(quiet_api: Api) -> None:
    api = quiet_api
    config = await tenant_sql(api, "SELECT v FROM asset_search_config WHERE k = 'automerge'")
    assert config == [{"v": 0}]
    tags = [f"P-{n:03d}" for n in range(WRITES)]
    for tag in tags:
        await create_asset(api, tag_number=tag, description=f"charge pump {tag} in crude service")
    unmerged = await segments(api)
    # With FTS5's automerge (4 a level) these writes would leave about 4; without, about 10.
    assert unmerged >= 8
    assert await found(api, "p-0") == tags
    assert await found(api, "crude") == tags

    db = await api.client.app[TENANT_DBS].get(api.tenant["id"])
    await housekeeping.tidy_each_tick(db)

    merged = await segments(api)
    assert merged < unmerged
    assert merged <= 4
    assert await found(api, "p-0") == tags
    assert await found(api, "crude") == tags
    for tag in tags[::7]:
        assert await found(api, tag) == [tag]


async def test_a_merged_index_needs_no_more_merging(quiet_api: Api) -> None:
    api = quiet_api
    for n in range(20):
        await create_asset(api, tag_number=f"V-{n:02d}")
    db = await api.client.app[TENANT_DBS].get(api.tenant["id"])
    assert await tidy_search_index(db) >= 1
    before = await segments(api)
    assert await tidy_search_index(db) == 0
    assert await segments(api) == before
    # A step bound holds: never more writes than asked for.
    for n in range(20, 40):
        await create_asset(api, tag_number=f"V-{n:02d}")
    assert await tidy_search_index(db, steps=1) == 1


async def test_every_tick_merges_not_only_the_minute_s_housekeeping(
    aiohttp_client: Callable[..., Awaitable[TestClient]], data_dir: Path
) -> None:
    # A scheduler that ticked once when it started (housekeeping included) and whose next
    # tick the test takes: housekeeping is not due again for a minute, yet the tick merges.
    # Once a minute was too seldom under a steady write load: FTS5 merged whole levels
    # inside requests' writes meanwhile (services/assets.py, SEARCH_MERGE_STEPS).
    settings = make_settings(data_dir, {"RELIATIC_SCHEDULER_TICK_SECONDS": "3600"})
    api = await open_api(await aiohttp_client(create_app(settings)), [])
    for n in range(WRITES):
        await create_asset(api, tag_number=f"T-{n:03d}", description=f"feed pump {n}")
    unmerged = await segments(api)
    assert unmerged >= 8

    await api.client.app[SCHEDULER].tick()

    assert await segments(api) <= 4
    assert len(await found(api, "feed pump")) == WRITES
