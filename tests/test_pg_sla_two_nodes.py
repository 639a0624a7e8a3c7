"""SLA escalation with two nodes on one PostgreSQL database (SPEC §7, §11; issue 15): each
level of each overdue action is raised once, as one alert and one `alert.escalated`, though
both nodes' schedulers run the escalation at the same moments.

The two nodes are two apps in this process, each with its own connection pool and scheduler,
on one database (the same data dir maps to the same database). What keeps the levels single
is the tenant's advisory write lock (storage/postgresql/sla.py says why); the reworked
actions below are the case where nothing else would: a level raised again on purpose
refreshes its alert and emits the event anew, so two passes that overlapped would both emit.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from reliatic_appliance.app import create_app
from tests.conftest import make_settings
from tests.test_actions_api import create_action, walk
from tests.test_sla_escalation import Plant, days_ago, open_plant
from tests.test_webhooks import FAST

pytestmark = pytest.mark.postgresql_only

ACTIONS = 20
# Overdue by more than the last of escalation_levels_days [7, 30]: levels 1, 2 and 3 owed.
LEVELS = (1, 2, 3)


async def test_two_nodes_raise_each_level_once(
    aiohttp_client: Callable[..., Awaitable[TestClient]], data_dir: Path
) -> None:
    first = await open_plant(aiohttp_client, data_dir)
    app = create_app(make_settings(data_dir, FAST), clock=first.clock)
    second = Plant(dataclasses.replace(first.api, client=await aiohttp_client(app)), first.clock)
    nodes = (first, second)

    async def both_pass(times: int = 3) -> None:
        for _ in range(times):
            await asyncio.gather(*(node.housekeeping() for node in nodes for _ in range(2)))

    actions = [
        await create_action(nodes[n % 2].api, title=f"Overdue {n}", due_date=days_ago(40))
        for n in range(ACTIONS)
    ]
    await both_pass()
    raised = Counter((a["resource_id"], a["level"]) for a in await first.escalations())
    assert raised == {(a["id"], level): 1 for a in actions for level in LEVELS}
    # Each node lists the same alerts: one per level.
    for node in nodes:
        listed = await node.alerts()
        assert sorted((a["resource_id"], a["level"]) for a in listed) == sorted(raised)

    # Rework half of them: their levels start over, and are raised once more, once.
    reworked = actions[: ACTIONS // 2]
    for n, action in enumerate(reworked):
        await walk(nodes[n % 2].api, action["id"], ["in_progress", "completed", "in_progress"])
    await both_pass()
    raised = Counter((a["resource_id"], a["level"]) for a in await first.escalations())
    again = {a["id"] for a in reworked}
    assert raised == {
        (a["id"], level): 2 if a["id"] in again else 1 for a in actions for level in LEVELS
    }
    assert len(await second.alerts()) == ACTIONS * len(LEVELS)
