"""The event feed and the alerts read API (SPEC §5 Events, Alerts)."""

from __future__ import annotations

from reliatic_appliance.keys import TENANT_DBS
from tests.conftest import Api, create_asset


async def feed(api: Api, query: str = "") -> dict:
    response = await api.get(f"/api/v1/events?{query}")
    assert response.status == 200, await response.text()
    return await response.json()


async def test_feed_items_have_the_webhook_payload_shape(api: Api) -> None:
    asset = await create_asset(api)
    await api.put(f"/api/v1/assets/{asset['id']}", json={"location": "Area 9"})
    body = await feed(api)
    assert [e["type"] for e in body["data"]] == ["asset.created", "asset.updated"]
    first = body["data"][0]
    assert set(first) == {"id", "type", "timestamp", "tenant", "resource", "data"}
    assert first["tenant"] == "acme"
    assert first["resource"] == {"type": "asset", "id": asset["id"]}
    assert first["data"]["before"] is None and first["data"]["after"]["id"] == asset["id"]
    second = body["data"][1]
    assert second["data"]["before"]["location"] is None
    assert second["data"]["after"]["location"] == "Area 9"
    assert int(second["id"]) > int(first["id"])


async def test_after_cursor_and_type_filter(api: Api) -> None:
    for n in range(5):
        await create_asset(api, tag_number=f"T-{n}")
    items = (await feed(api))["data"]
    cursor = items[2]["id"]
    later = (await feed(api, f"after={cursor}"))["data"]
    assert [e["id"] for e in later] == [e["id"] for e in items[3:]]
    asset_id = items[0]["resource"]["id"]
    await api.delete(f"/api/v1/assets/{asset_id}")
    only = (await feed(api, "type=asset.decommissioned"))["data"]
    assert [e["resource"]["id"] for e in only] == [asset_id]
    paged = await feed(api, "per_page=2&page=2")
    assert paged["meta"]["total"] == 6 and len(paged["data"]) == 2


async def test_feed_bad_values(api: Api) -> None:
    for query, field in [
        ("after=-1", "after"),
        ("after=abc", "after"),
        ("type=asset.eaten", "type"),
    ]:
        response = await api.get(f"/api/v1/events?{query}")
        assert response.status == 400
        assert [d["field"] for d in (await response.json())["details"]] == [field]


async def test_feed_is_per_tenant(api: Api) -> None:
    await create_asset(api)
    other = await api.new_tenant("globex")
    key, _ = await api.new_key(tenant=other)
    response = await api.get("/api/v1/events", key=key)
    assert (await response.json())["data"] == []


async def test_alerts_list_and_get(api: Api) -> None:
    db = await api.client.app[TENANT_DBS].get(api.tenant["id"])
    alert = {
        "id": "alr_01M8A000000000000000000000",
        "kind": "sla_escalation",
        "severity": "warning",
        "resource_type": "action",
        "resource_id": "act_01M8A000000000000000000000",
        "level": 1,
        "message": "Action overdue",
        "created_at": "2026-11-25T10:00:00.000000Z",
    }
    assert await db.write(lambda tx: tx.alerts.insert_alert(alert)) is True
    assert await db.write(lambda tx: tx.alerts.insert_alert(alert)) is False  # once per level
    listing = await (await api.get("/api/v1/alerts?kind=sla_escalation")).json()
    assert [a["id"] for a in listing["data"]] == [alert["id"]]
    one = await (await api.get(f"/api/v1/alerts/{alert['id']}")).json()
    assert one["data"]["level"] == 1 and one["data"]["updated_at"] == alert["created_at"]
    assert (await api.get("/api/v1/alerts/alr_nope")).status == 404
    assert (await api.get("/api/v1/alerts?kind=other")).status == 400
