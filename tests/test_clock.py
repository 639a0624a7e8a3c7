"""One clock (keys.CLOCK): every "now" of a request's rules comes from the app's clock, so a
test can move time for any of them without sleeping or patching."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp.test_utils import TestClient

from reliatic_appliance.app import create_app
from tests.conftest import Api, make_settings, open_api

# Ten years on: nothing else in the process reads this time, so every field that shows it
# came from the app's clock.
FUTURE = datetime(2036, 7, 1, 9, 30, 0, tzinfo=UTC)


class Frozen:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


async def _api(
    aiohttp_client: Callable[..., Awaitable[TestClient]], data_dir: Path, clock: Frozen
) -> Api:
    app = create_app(make_settings(data_dir), clock=clock, run_scheduler=False)
    return await open_api(
        await aiohttp_client(app), ["assets:write", "inspections:write", "events:read"]
    )


async def test_writes_and_envelopes_take_their_time_from_the_app_clock(
    aiohttp_client: Callable[..., Awaitable[TestClient]], data_dir: Path
) -> None:
    api = await _api(aiohttp_client, data_dir, Frozen(FUTURE))
    made = await api.post(
        "/api/v1/assets", json={"tag_number": "V-1", "name": "n", "asset_type": "vessel"}
    )
    assert made.status == 201, await made.text()
    body = await made.json()
    assert body["data"]["created_at"].startswith("2036-07-01T09:30:00")
    assert body["data"]["updated_at"] == body["data"]["created_at"]
    assert body["meta"]["timestamp"] == "2036-07-01T09:30:00Z"
    events = await (await api.get("/api/v1/events")).json()
    assert events["data"][-1]["timestamp"].startswith("2036-07-01T09:30:00")


async def test_not_in_the_future_is_judged_by_the_app_clock(
    aiohttp_client: Callable[..., Awaitable[TestClient]], data_dir: Path
) -> None:
    """An inspection dated after the real today is accepted when the app's today is later,
    and refused when the app's today is earlier (SPEC §5 rule, moved by the clock)."""
    clock = Frozen(FUTURE)
    api = await _api(aiohttp_client, data_dir, clock)
    made = await api.post(
        "/api/v1/assets", json={"tag_number": "V-2", "name": "n", "asset_type": "vessel"}
    )
    asset_id = (await made.json())["data"]["id"]
    body = {
        "asset_id": asset_id,
        "inspection_type": "ut_scanning",
        "inspection_date": (FUTURE - timedelta(days=1)).date().isoformat(),
        "inspector_name": "J. Okafor",
    }
    assert (await api.post("/api/v1/inspections", json=body)).status == 201
    clock.moment = FUTURE - timedelta(days=30)
    refused = await api.post("/api/v1/inspections", json=body)
    assert refused.status == 400
    assert (await refused.json())["details"][0]["field"] == "inspection_date"
