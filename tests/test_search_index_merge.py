"""The `search` index merges its segments in the scheduler's housekeeping, not inside each
write (migration 0010): a write adds a segment, housekeeping merges them, and every asset is
found by `search` before and after."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from reliatic_appliance.app import create_app
from reliatic_appliance.keys import SETTINGS, TENANT_DBS
from reliatic_appliance.scheduler import housekeeping
from reliatic_appliance.services.assets import tidy_search_index
from reliatic_appliance.timefmt import utc_now
from tests.conftest import Api, create_asset, make_settings, open_api, tenant_sql

pytestmark = pytest.mark.sqlite_only(reason="the segments of SQLite's FTS5 index")

# More single-asset writes than FTS5's 'crisismerge' (16): level 0 fills and is merged once
# by FTS5 itself, so what is left to merge is housekeeping's.
WRITES = 40


@pytest.fixture
async def quiet_api(aiohttp_client: Callable[..., Awaitable[TestClient]], data_dir: Path) -> Api:
    """A server whose scheduler does not tick: housekeeping runs when the test says, as
    the scheduler runs it for each tenant."""
    app = create_app(make_settings(data_dir), run_scheduler=False)
    return await open_api(await aiohttp_client(app), [])


async def segments(api: Api) -> int:
    rows = await tenant_sql(api, "SELECT COUNT(DISTINCT segid) AS n FROM asset_search_idx")
    return int(rows[0]["n"])


async def found(api: Api, term: str) -> list[str]:
    response = await api.get("/api/v1/assets", params={"search": term, "per_page": "100"})
    assert response.status == 200
    return [a["tag_number"] for a in (await response.json())["data"]]


async def test_writes_leave_segments_that_housekeeping_merges(quiet_api: Api) -> None:
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

    app = api.client.app
    db = await app[TENANT_DBS].get(api.tenant["id"])
    await housekeeping.run(db, now=utc_now(), settings=app[SETTINGS])

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
