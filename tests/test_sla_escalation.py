"""SLA escalation (SPEC §7): one alert and one `alert.escalated` per level an open action
passes (its due date, then each `escalation_levels_days`), with a clock the test moves
instead of sleeping for days. The scheduler runs for real and the alert events reach a real
receiver; `run_housekeeping()` just runs the periodic pass now.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from reliatic_appliance.app import create_app
from reliatic_appliance.keys import SCHEDULER
from reliatic_appliance.services import alerts as alert_service
from tests.conftest import Api, events_of, make_settings, open_api
from tests.test_actions_api import create_action, walk
from tests.test_webhooks import ADMIN, FAST, Clock, subscribe
from tests.webhook_receiver import Receiver, wait_for


class Plant:
    """The app with its movable clock and a tenant whose key also manages webhooks."""

    def __init__(self, api: Api, clock: Clock) -> None:
        self.api = api
        self.clock = clock

    async def housekeeping(self) -> None:
        await self.api.client.app[SCHEDULER].run_housekeeping()

    async def alerts(self, action_id: str | None = None) -> list[dict[str, Any]]:
        query = "?per_page=100&sort=level" + (f"&resource_id={action_id}" if action_id else "")
        response = await self.api.get(f"/api/v1/alerts{query}")
        assert response.status == 200, await response.text()
        return (await response.json())["data"]  # type: ignore[no-any-return]

    async def escalations(self) -> list[dict[str, Any]]:
        """`alert.escalated` events, oldest first, with their alert."""
        return [
            json.loads(e["data"])["after"]
            for e in await events_of(self.api)
            if e["type"] == "alert.escalated"
        ]


async def open_plant(
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    data_dir: Path,
    env: dict[str, str] | None = None,
) -> Plant:
    clock = Clock()
    app = create_app(make_settings(data_dir, {**FAST, **(env or {})}), clock=clock)
    return Plant(await open_api(await aiohttp_client(app), ADMIN), clock)


@pytest.fixture
async def plant(aiohttp_client: Callable[..., Awaitable[TestClient]], data_dir: Path) -> Plant:
    return await open_plant(aiohttp_client, data_dir)


def days_ago(days: int) -> str:
    return (datetime.now(UTC).date() - timedelta(days=days)).isoformat()


async def test_one_alert_per_level_as_time_passes(plant: Plant, receiver: Receiver) -> None:
    await subscribe(plant.api, receiver.url("/sla"), ["alert.escalated"])
    action = await create_action(plant.api, title="Repair PSV-12", due_date=days_ago(1))

    await plant.housekeeping()
    alerts = await plant.alerts(action["id"])
    assert [(a["level"], a["kind"], a["severity"]) for a in alerts] == [
        (1, "sla_escalation", "warning")
    ]
    assert "Repair PSV-12" in alerts[0]["message"] and alerts[0]["resource_type"] == "action"
    assert [a["id"] for a in await plant.escalations()] == [alerts[0]["id"]]
    await wait_for(lambda: len(receiver.on("/sla")) == 1)
    sent = receiver.on("/sla")[0].payload
    assert sent["type"] == "alert.escalated" and sent["resource"]["id"] == alerts[0]["id"]
    assert sent["data"]["after"]["resource_id"] == action["id"]
    assert sent["data"]["after"]["level"] == 1

    await plant.housekeeping()  # once per level: nothing new
    assert len(await plant.alerts(action["id"])) == 1 and len(await plant.escalations()) == 1

    plant.clock.advance(days=5)  # 6 days overdue: still level 1
    await plant.housekeeping()
    assert len(await plant.escalations()) == 1

    plant.clock.advance(days=1)  # 7 days overdue: the first of escalation_levels_days [7, 30]
    await plant.housekeeping()
    await plant.housekeeping()
    levels = [(a["level"], a["severity"]) for a in await plant.alerts(action["id"])]
    assert levels == [(1, "warning"), (2, "critical")]
    assert [a["level"] for a in await plant.escalations()] == [1, 2]

    # (From here on the first events are older than the 30-day log retention: purged.)
    plant.clock.advance(days=30)
    await plant.housekeeping()
    assert [a["level"] for a in await plant.alerts(action["id"])] == [1, 2, 3]
    plant.clock.advance(days=365)  # no level beyond the last
    await plant.housekeeping()
    assert [a["level"] for a in await plant.alerts(action["id"])] == [1, 2, 3]
    await wait_for(lambda: len(receiver.on("/sla")) == 3)
    # One delivery per level, in the feed's order. Deliveries of one claim go out at once,
    # so their arrival order is the network's (SPEC §7 promises none; seen [1, 3, 2] on
    # PostgreSQL): order by the event id each payload carries (a number, as a string).
    by_event = sorted(receiver.on("/sla"), key=lambda r: int(r.payload["id"]))
    assert [r.payload["data"]["after"]["level"] for r in by_event] == [1, 2, 3]


async def test_only_open_overdue_actions_escalate(plant: Plant) -> None:
    yesterday = days_ago(1)
    finished = {
        "completed": ["in_progress", "completed"],
        "verified": ["in_progress", "completed", "verified"],
        "closed": ["in_progress", "completed", "verified", "closed"],
        "cancelled": ["cancelled"],
    }
    for title, path in finished.items():
        action = await create_action(plant.api, title=title, due_date=yesterday)
        await walk(plant.api, action["id"], path)
    still_open = {
        "open": [],
        "in_progress": ["in_progress"],
        "on_hold": ["on_hold"],
    }
    open_ids = {}
    for title, path in still_open.items():
        action = await create_action(plant.api, title=title, due_date=yesterday)
        await walk(plant.api, action["id"], path)
        open_ids[action["id"]] = title
    await create_action(plant.api, title="no due date")
    due_today = await create_action(plant.api, title="due today", due_date=days_ago(0))

    plant.clock.advance(days=100)  # far past every level for anything overdue...
    await plant.housekeeping()
    # ...but the due-today one counts from its own date: it is now 100 days overdue too.
    escalated = {a["resource_id"] for a in await plant.alerts()}
    assert escalated == {*open_ids, due_today["id"]}
    for action_id in open_ids:
        assert [a["level"] for a in await plant.alerts(action_id)] == [1, 2, 3]


async def test_due_today_is_on_time_until_the_day_is_over(plant: Plant) -> None:
    action = await create_action(plant.api, title="Due today", due_date=days_ago(0))
    await plant.housekeeping()
    assert await plant.alerts() == []
    plant.clock.advance(days=1)
    await plant.housekeeping()
    assert [a["level"] for a in await plant.alerts(action["id"])] == [1]


async def test_a_reworked_action_is_escalated_afresh(plant: Plant) -> None:
    action = await create_action(plant.api, title="Reweld nozzle", due_date=days_ago(10))
    await plant.housekeeping()
    assert [a["level"] for a in await plant.escalations()] == [1, 2]
    await walk(plant.api, action["id"], ["in_progress", "completed"])
    await plant.housekeeping()
    assert len(await plant.escalations()) == 2  # finished: quiet
    await walk(plant.api, action["id"], ["in_progress"])  # rework: open again, still overdue
    await plant.housekeeping()
    again = await plant.escalations()
    assert [a["level"] for a in again] == [1, 2, 1, 2]
    await plant.housekeeping()
    assert len(await plant.escalations()) == 4
    # The alert list keeps one alert per level, brought up to date by the new escalation.
    alerts = await plant.alerts(action["id"])
    assert [a["level"] for a in alerts] == [1, 2]
    assert all(a["updated_at"] > a["created_at"] for a in alerts)


async def test_escalation_levels_follow_the_settings(
    aiohttp_client: Callable[..., Awaitable[TestClient]], data_dir: Path
) -> None:
    plant = await open_plant(
        aiohttp_client, data_dir, {"RELIATIC_SLA_ESCALATION_LEVELS_DAYS": "[2]"}
    )
    action = await create_action(plant.api, title="Short SLA", due_date=days_ago(1))
    await plant.housekeeping()
    plant.clock.advance(days=1)
    await plant.housekeeping()
    plant.clock.advance(days=400)
    await plant.housekeeping()
    assert [a["level"] for a in await plant.alerts(action["id"])] == [1, 2]


async def test_a_backlog_of_escalated_actions_does_not_starve_new_ones(
    plant: Plant, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One small write a pass stands in for production's 10 x 50: fully escalated actions
    # must not fill every batch and keep newly overdue ones from ever escalating.
    monkeypatch.setattr(alert_service, "ESCALATION_BATCH", 2)
    monkeypatch.setattr(alert_service, "ESCALATION_WRITES", 1)
    old = [
        await create_action(plant.api, title=f"old {n}", due_date=days_ago(60)) for n in range(3)
    ]
    for _ in range(3):
        await plant.housekeeping()
    assert len(await plant.escalations()) == 9  # 3 actions x 3 levels, two per pass
    fresh = await create_action(plant.api, title="fresh", due_date=days_ago(1))
    await plant.housekeeping()
    assert [a["level"] for a in await plant.alerts(fresh["id"])] == [1]
    assert {a["resource_id"] for a in await plant.alerts()} == {
        fresh["id"],
        *(o["id"] for o in old),
    }


async def test_a_pass_escalates_in_several_small_writes_up_to_its_bound(
    plant: Plant, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Batches of 2, 3 writes a pass (production: 50 and 10): a backlog is escalated in
    # writes that requests' writes take turns with, and the pass stops at its bound.
    monkeypatch.setattr(alert_service, "ESCALATION_BATCH", 2)
    monkeypatch.setattr(alert_service, "ESCALATION_WRITES", 3)
    actions = [
        await create_action(plant.api, title=f"late {n}", due_date=days_ago(1)) for n in range(7)
    ]
    await plant.housekeeping()
    assert len(await plant.escalations()) == 6
    await plant.housekeeping()
    assert sorted(a["resource_id"] for a in await plant.escalations()) == sorted(
        a["id"] for a in actions
    )
    await plant.housekeeping()  # nothing owed: a pass that finds nothing raises nothing
    assert len(await plant.escalations()) == 7


async def test_a_new_due_date_is_a_new_sla(plant: Plant) -> None:
    action = await create_action(plant.api, title="Replace gasket", due_date=days_ago(2))
    await plant.housekeeping()
    assert [a["level"] for a in await plant.escalations()] == [1]
    later = (datetime.now(UTC).date() + timedelta(days=5)).isoformat()
    response = await plant.api.put(f"/api/v1/actions/{action['id']}", json={"due_date": later})
    assert response.status == 200, await response.text()
    await plant.housekeeping()
    assert len(await plant.escalations()) == 1  # not overdue any more: quiet
    plant.clock.advance(days=6)
    await plant.housekeeping()
    assert [a["level"] for a in await plant.escalations()] == [1, 1]
