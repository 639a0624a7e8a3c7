"""Risk assessments (RBI) API against the real server (SPEC §5 Risk assessments, §6, §7)."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest

from tests.conftest import Api, create_asset, events_of, tenant_sql

PATH = "/api/v1/risk-assessments"


async def assess(api: Api, asset_id: str, p: int, c: int, **fields: Any) -> dict[str, Any]:
    body = {"asset_id": asset_id, "probability_of_failure": p, "consequence_of_failure": c}
    response = await api.post(PATH, json=body | fields)
    assert response.status == 201, await response.text()
    return (await response.json())["data"]


async def asset_ranking(api: Api, asset_id: str) -> str | None:
    response = await api.get(f"/api/v1/assets/{asset_id}")
    return (await response.json())["data"]["risk_ranking"]  # type: ignore[no-any-return]


async def event_types(api: Api) -> list[str]:
    return [e["type"] for e in await events_of(api)]


async def count_assessments(api: Api) -> int:
    (row,) = await tenant_sql(api, "SELECT COUNT(*) AS n FROM risk_assessments")
    return int(row["n"])


def today_utc() -> datetime.date:
    return datetime.datetime.now(datetime.UTC).date()


async def test_create_returns_every_field_and_emits_created_then_asset_updated(
    api: Api,
) -> None:
    asset = await create_asset(api)
    response = await api.post(
        PATH,
        json={
            "asset_id": asset["id"],
            "probability_of_failure": 3,
            "consequence_of_failure": 4,
            "assessed_by": "J. Ortega",
            "assessment_date": "2026-01-15",
            "damage_mechanisms": "CO2 corrosion; CUI",
        },
    )
    assert response.status == 201
    ra = (await response.json())["data"]
    assert response.headers["Location"] == f"{PATH}/{ra['id']}"
    assert (ra["risk_score"], ra["risk_ranking"]) == (12, "medium_high")
    assert ra["assessment_date"] == "2026-01-15" and ra["notes"] is None
    assert (await (await api.get(f"{PATH}/{ra['id']}")).json())["data"] == ra

    events = await events_of(api)
    assert [e["type"] for e in events] == [
        "asset.created",
        "risk_assessment.created",
        "asset.updated",
    ]
    created = events[1]
    assert (created["resource_type"], created["resource_id"]) == ("risk_assessment", ra["id"])
    assert json.loads(created["data"]) == {"before": None, "after": ra}
    updated = json.loads(events[2]["data"])
    assert events[2]["resource_id"] == asset["id"]
    assert updated["before"]["risk_ranking"] is None
    assert updated["after"]["risk_ranking"] == "medium_high"


# SPEC §6 matrix: every ranking, and the cells whose ranking is not a function of P x C.
CELLS = [
    pytest.param(1, 1, 1, "low", id="P1-C1-low"),
    pytest.param(3, 2, 6, "medium", id="P3-C2-medium"),
    pytest.param(4, 3, 12, "medium_high", id="P4-C3-medium_high"),
    pytest.param(5, 5, 25, "high", id="P5-C5-high"),
    pytest.param(5, 1, 5, "medium", id="P5-C1-medium"),
    pytest.param(1, 5, 5, "medium_high", id="P1-C5-medium_high"),
    pytest.param(2, 4, 8, "medium", id="P2-C4-medium"),
    pytest.param(3, 5, 15, "high", id="P3-C5-high"),
]


@pytest.mark.parametrize(("p", "c", "score", "ranking"), CELLS)
async def test_rankings(api: Api, p: int, c: int, score: int, ranking: str) -> None:
    asset = await create_asset(api)
    ra = await assess(api, asset["id"], p, c)
    assert (ra["risk_score"], ra["risk_ranking"]) == (score, ranking)
    assert await asset_ranking(api, asset["id"]) == ranking
    # The asset list shows it too, and the assessment list filters on it.
    assets = await (await api.get("/api/v1/assets")).json()
    assert [a["risk_ranking"] for a in assets["data"]] == [ranking]
    listed = await (await api.get(f"{PATH}?risk_ranking={ranking}")).json()
    assert [r["id"] for r in listed["data"]] == [ra["id"]]


async def test_asset_follows_the_newest_by_assessment_date_then_creation(api: Api) -> None:
    asset = await create_asset(api)
    await assess(api, asset["id"], 5, 5, assessment_date="2026-01-10")
    assert await asset_ranking(api, asset["id"]) == "high"
    # An older-dated assessment, created later, does not take over.
    await assess(api, asset["id"], 1, 1, assessment_date="2025-06-01")
    assert await asset_ranking(api, asset["id"]) == "high"
    assert await event_types(api) == [
        "asset.created",
        "risk_assessment.created",
        "asset.updated",
        "risk_assessment.created",
    ]
    # Same date as the newest: the latest created wins.
    await assess(api, asset["id"], 3, 2, assessment_date="2026-01-10")
    assert await asset_ranking(api, asset["id"]) == "medium"
    assert (await event_types(api))[-2:] == ["risk_assessment.created", "asset.updated"]
    assets = await (await api.get("/api/v1/assets")).json()
    assert assets["data"][0]["risk_ranking"] == "medium"


async def test_same_ranking_from_a_newer_assessment_emits_no_asset_update(api: Api) -> None:
    asset = await create_asset(api)
    await assess(api, asset["id"], 2, 3, assessment_date="2025-01-01")
    await assess(api, asset["id"], 3, 3, assessment_date="2025-02-01")
    assert await asset_ranking(api, asset["id"]) == "medium"
    assert (await event_types(api)).count("asset.updated") == 1


async def test_assessment_date_defaults_to_today_utc(api: Api) -> None:
    asset = await create_asset(api)
    before = today_utc()
    ra = await assess(api, asset["id"], 2, 2)
    assert ra["assessment_date"] in {before.isoformat(), today_utc().isoformat()}
    ra = await assess(api, asset["id"], 2, 2, assessment_date=None)
    assert ra["assessment_date"] in {before.isoformat(), today_utc().isoformat()}


async def test_future_assessment_date_is_400_and_writes_nothing(api: Api) -> None:
    asset = await create_asset(api)
    future = (today_utc() + datetime.timedelta(days=1)).isoformat()
    body = {"asset_id": asset["id"], "probability_of_failure": 2, "consequence_of_failure": 2}
    response = await api.post(PATH, json={**body, "assessment_date": future})
    assert response.status == 400
    assert (await response.json())["details"] == [
        {"field": "assessment_date", "message": "must not be in the future (UTC)"}
    ]
    assert await count_assessments(api) == 0
    ra = await assess(api, asset["id"], 2, 2, assessment_date=today_utc().isoformat())
    response = await api.put(f"{PATH}/{ra['id']}", json={"assessment_date": future})
    assert response.status == 400
    assert (await response.json())["details"][0]["field"] == "assessment_date"
    assert (await (await api.get(f"{PATH}/{ra['id']}")).json())["data"] == ra


async def test_update_recomputes_and_refreshes_the_asset(api: Api) -> None:
    asset = await create_asset(api)
    old = await assess(api, asset["id"], 1, 1, assessment_date="2025-01-01")
    new = await assess(api, asset["id"], 4, 4, assessment_date="2026-01-01")
    assert await asset_ranking(api, asset["id"]) == "high"
    count = len(await events_of(api))

    # Changing the newest's matrix inputs re-ranks the asset (asset.updated only).
    response = await api.put(f"{PATH}/{new['id']}", json={"probability_of_failure": 2})
    assert response.status == 200
    updated = (await response.json())["data"]
    assert (updated["risk_score"], updated["risk_ranking"]) == (8, "medium")
    assert updated["updated_at"] > new["updated_at"]
    assert await asset_ranking(api, asset["id"]) == "medium"
    assert (await event_types(api))[count:] == ["asset.updated"]

    # Re-dating the old one past the new one makes it the newest.
    response = await api.put(f"{PATH}/{old['id']}", json={"assessment_date": "2026-02-01"})
    assert (await response.json())["data"]["assessment_date"] == "2026-02-01"
    assert await asset_ranking(api, asset["id"]) == "low"

    # Notes only: nothing about the asset changes, no event at all.
    count = len(await events_of(api))
    response = await api.put(
        f"{PATH}/{old['id']}", json={"notes": "Re-checked", "asset_id": asset["id"]}
    )
    assert (await response.json())["data"]["notes"] == "Re-checked"
    assert len(await events_of(api)) == count


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({"probability_of_failure": None}, "probability_of_failure", id="null-p"),
        pytest.param({"assessment_date": None}, "assessment_date", id="null-date"),
        pytest.param({"consequence_of_failure": 6}, "consequence_of_failure", id="c-6"),
        pytest.param({"risk_score": 1}, "risk_score", id="computed"),
        pytest.param({"asset_id": "ast_01ZZZZZZZZZZZZZZZZZZZZZZZZ"}, "asset_id", id="move"),
    ],
)
async def test_bad_update_is_400_and_changes_nothing(
    api: Api, body: dict[str, Any], field: str
) -> None:
    asset = await create_asset(api)
    ra = await assess(api, asset["id"], 3, 3)
    response = await api.put(f"{PATH}/{ra['id']}", json=body)
    assert response.status == 400
    assert [d["field"] for d in (await response.json())["details"]] == [field]
    assert (await (await api.get(f"{PATH}/{ra['id']}")).json())["data"] == ra


VALID = {"probability_of_failure": 3, "consequence_of_failure": 3}


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        pytest.param(
            {}, ["asset_id", "probability_of_failure", "consequence_of_failure"], id="empty"
        ),
        pytest.param({**VALID, "probability_of_failure": 0}, ["probability_of_failure"], id="p0"),
        pytest.param({**VALID, "consequence_of_failure": 6}, ["consequence_of_failure"], id="c6"),
        pytest.param({**VALID, "consequence_of_failure": 2.0}, ["consequence_of_failure"]),
        pytest.param({**VALID, "assessment_date": "15/01/2026"}, ["assessment_date"], id="date"),
        pytest.param({**VALID, "assessment_date": "2026-02-30"}, ["assessment_date"], id="feb30"),
        pytest.param({**VALID, "assessed_by": "a\x00b"}, ["assessed_by"], id="control-char"),
        pytest.param({**VALID, "risk_ranking": "low"}, ["risk_ranking"], id="computed"),
    ],
)
async def test_bad_create_is_400_and_writes_nothing(
    api: Api, body: dict[str, Any], fields: list[str]
) -> None:
    asset = await create_asset(api)
    if "asset_id" not in fields:
        body = {**body, "asset_id": asset["id"]}
    response = await api.post(PATH, json=body)
    assert response.status == 400
    error = await response.json()
    assert error["error"] == "validation_error"
    assert sorted(d["field"] for d in error["details"]) == sorted(fields)
    assert await count_assessments(api) == 0
    assert await event_types(api) == ["asset.created"]


async def test_asset_of_another_tenant_is_400_naming_asset_id(api: Api) -> None:
    other_key, _ = await api.new_key(tenant=await api.new_tenant("globex"))
    response = await api.post(
        "/api/v1/assets",
        json={"tag_number": "V-1", "name": "n", "asset_type": "tank"},
        key=other_key,
    )
    foreign = (await response.json())["data"]["id"]
    response = await api.post(PATH, json={**VALID, "asset_id": foreign})
    assert response.status == 400
    assert (await response.json())["details"][0]["field"] == "asset_id"
    assert await count_assessments(api) == 0
    assert await events_of(api) == []
    # Nor did the foreign asset pick up a ranking.
    response = await api.get(f"/api/v1/assets/{foreign}", key=other_key)
    assert (await response.json())["data"]["risk_ranking"] is None


async def test_filters_sort_and_bad_values(api: Api) -> None:
    first = await create_asset(api)
    second = await create_asset(api, tag_number="TK-12")
    a = await assess(api, first["id"], 1, 1, assessment_date="2025-03-01")
    b = await assess(api, first["id"], 5, 5, assessment_date="2024-01-01")
    c = await assess(api, second["id"], 3, 2, assessment_date="2025-01-01")

    async def ids(query: str) -> list[str]:
        response = await api.get(f"{PATH}?{query}")
        assert response.status == 200, await response.text()
        return [r["id"] for r in (await response.json())["data"]]

    assert await ids(f"asset_id={first['id']}&sort=assessment_date") == [b["id"], a["id"]]
    assert await ids("sort=-risk_score") == [b["id"], c["id"], a["id"]]
    assert await ids("sort=-assessment_date") == [a["id"], c["id"], b["id"]]
    assert await ids("risk_ranking=medium") == [c["id"]]
    assert await ids(f"updated_since={c['created_at']}") == [c["id"]]
    for query, field in (
        ("risk_ranking=severe", "risk_ranking"),
        ("sort=notes", "sort"),
        ("asset_id=", "asset_id"),
        ("updated_since=yesterday", "updated_since"),
    ):
        response = await api.get(f"{PATH}?{query}")
        assert response.status == 400, query
        assert [d["field"] for d in (await response.json())["details"]] == [field]


async def test_no_delete(api: Api) -> None:
    ra = await assess(api, (await create_asset(api))["id"], 2, 2)
    response = await api.delete(f"{PATH}/{ra['id']}")
    assert response.status == 405
    assert (await response.json())["error"] == "method_not_allowed"
    assert "DELETE" not in response.headers["Allow"]


async def test_unknown_and_foreign_ids_are_404(api: Api) -> None:
    ra = await assess(api, (await create_asset(api))["id"], 2, 2)
    other_key, _ = await api.new_key(tenant=await api.new_tenant("globex"))
    assert (await api.get(f"{PATH}/rsk_01ZZZZZZZZZZZZZZZZZZZZZZZZ")).status == 404
    assert (await api.get(f"{PATH}/{ra['id']}", key=other_key)).status == 404
    response = await api.put(f"{PATH}/{ra['id']}", json={"notes": "x"}, key=other_key)
    assert response.status == 404


async def test_read_only_key_can_read_not_write(api: Api) -> None:
    asset = await create_asset(api)
    key, _ = await api.new_key("read_only")
    assert (await api.get(PATH, key=key)).status == 200
    response = await api.post(PATH, json={**VALID, "asset_id": asset["id"]}, key=key)
    assert response.status == 403
    assert (await response.json())["message"].endswith("risk_assessments:write")
