"""Failure modes (FMEA) API against the real server (SPEC §5 Failure modes, §6, §7)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import Api, create_asset, events_of, insert_row, tenant_sql

PATH = "/api/v1/failure-modes"


async def create_fm(api: Api, asset_id: str, **fields: Any) -> dict[str, Any]:
    body = {"asset_id": asset_id, "description": "Shell thinning"}
    body |= {"severity": 5, "occurrence": 5, "detection": 5} | fields
    response = await api.post(PATH, json=body)
    assert response.status == 201, await response.text()
    return (await response.json())["data"]


async def count_rows(api: Api, table: str) -> int:
    # `table` is one of this file's literals, never input.
    return int((await tenant_sql(api, f"SELECT COUNT(*) AS n FROM {table}"))[0]["n"])


async def test_create_returns_every_field_and_location_and_emits_nothing(api: Api) -> None:
    asset = await create_asset(api)
    response = await api.post(
        PATH,
        json={
            "asset_id": asset["id"],
            "description": "Shell thinning at the liquid level",
            "severity": 8,
            "occurrence": 5,
            "detection": 6,
            "failure_mechanism": "CO2 corrosion",
        },
    )
    assert response.status == 201
    fm = (await response.json())["data"]
    assert response.headers["Location"] == f"{PATH}/{fm['id']}"
    assert fm["asset_id"] == asset["id"]
    assert (fm["rpn"], fm["priority"], fm["action_priority"]) == (240, "high", "M")
    assert fm["failure_mechanism"] == "CO2 corrosion"
    for name in ("effect", "cause", "current_controls"):
        assert name in fm and fm[name] is None, name
    assert fm["created_at"] == fm["updated_at"]
    # SPEC §7 has no event type for a new failure mode.
    assert [e["type"] for e in await events_of(api)] == ["asset.created"]
    got = await api.get(f"{PATH}/{fm['id']}")
    assert got.status == 200 and (await got.json())["data"] == fm


async def test_unknown_id_is_404_for_get_put_delete(api: Api) -> None:
    path = f"{PATH}/fmd_01ZZZZZZZZZZZZZZZZZZZZZZZZ"
    for response in (
        await api.get(path),
        await api.put(path, json={"severity": 2}),
        await api.delete(path),
    ):
        assert response.status == 404
        assert (await response.json())["error"] == "not_found"


# SPEC §6, one row per cell: (S, O, D) -> (rpn, priority, action_priority).
CELLS = [
    pytest.param((1, 1, 1), (1, "low", "L"), id="minimum"),
    pytest.param((10, 10, 10), (1000, "critical", "H"), id="maximum"),
    pytest.param((9, 1, 1), (9, "critical", "L"), id="S9-is-critical-at-rpn-9"),
    pytest.param((10, 2, 1), (20, "critical", "L"), id="S10-O2-D1"),
    pytest.param((5, 6, 10), (300, "critical", "M"), id="rpn-300-boundary-is-critical"),
    pytest.param((3, 10, 10), (300, "critical", "M"), id="rpn-300-S3-O8plus"),
    pytest.param((7, 6, 7), (294, "high", "H"), id="rpn-294-just-below-300"),
    pytest.param((8, 5, 5), (200, "high", "M"), id="rpn-200-boundary-is-high"),
    pytest.param((4, 7, 7), (196, "medium", "M"), id="rpn-196-below-200"),
    pytest.param((4, 5, 5), (100, "medium", "L"), id="rpn-100-boundary-is-medium"),
    pytest.param((7, 7, 2), (98, "low", "H"), id="low-rpn-but-ap-H"),
    pytest.param((8, 10, 1), (80, "low", "H"), id="S7-8-O8plus-D1"),
    pytest.param((6, 3, 10), (180, "medium", "L"), id="S4-6-O2-3-is-other-row"),
]


@pytest.mark.parametrize(("sod", "expected"), CELLS)
async def test_computed_fields(
    api: Api, sod: tuple[int, int, int], expected: tuple[int, str, str]
) -> None:
    asset = await create_asset(api)
    s, o, d = sod
    fm = await create_fm(api, asset["id"], severity=s, occurrence=o, detection=d)
    assert (fm["rpn"], fm["priority"], fm["action_priority"]) == expected
    # The stored values are what a list filters on.
    listed = await (await api.get(f"{PATH}?priority={expected[1]}")).json()
    assert [f["id"] for f in listed["data"]] == [fm["id"]]


async def seed_rpns(api: Api) -> dict[int, str]:
    """Failure modes with RPN 1, 100, 300 and 1000, by RPN."""
    asset = await create_asset(api)
    ids = {}
    for s, o, d in ((1, 1, 1), (4, 5, 5), (5, 6, 10), (10, 10, 10)):
        fm = await create_fm(api, asset["id"], severity=s, occurrence=o, detection=d)
        ids[fm["rpn"]] = fm["id"]
    return ids


async def rpns(api: Api, query: str) -> list[int]:
    response = await api.get(f"{PATH}?{query}")
    assert response.status == 200, await response.text()
    return [f["rpn"] for f in (await response.json())["data"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param("rpn_min=100", [100, 300, 1000], id="min-inclusive"),
        pytest.param("rpn_max=300", [1, 100, 300], id="max-inclusive"),
        pytest.param("rpn_min=300&rpn_max=300", [300], id="min-equals-max"),
        pytest.param("rpn_min=1&rpn_max=1000", [1, 100, 300, 1000], id="full-range"),
        pytest.param("rpn_min=101&rpn_max=299", [], id="empty-range"),
        pytest.param("rpn_min=1000", [1000], id="top-edge"),
        pytest.param("rpn_max=1", [1], id="bottom-edge"),
        pytest.param("priority=critical", [300, 1000], id="priority"),
        pytest.param("action_priority=L", [1, 100], id="action-priority"),
    ],
)
async def test_rpn_filters(api: Api, query: str, expected: list[int]) -> None:
    await seed_rpns(api)
    assert await rpns(api, f"{query}&sort=rpn") == expected


@pytest.mark.parametrize(
    ("query", "field"),
    [
        pytest.param("rpn_min=0", "rpn_min", id="min-below-1"),
        pytest.param("rpn_max=1001", "rpn_max", id="max-above-1000"),
        pytest.param("rpn_min=abc", "rpn_min", id="not-a-number"),
        pytest.param("rpn_max=2.5", "rpn_max", id="not-an-integer"),
        pytest.param("rpn_min=500&rpn_max=100", "rpn_min", id="min-above-max"),
        pytest.param("priority=urgent", "priority", id="unknown-priority"),
        pytest.param("action_priority=X", "action_priority", id="unknown-ap"),
        pytest.param("sort=description", "sort", id="unsortable-field"),
    ],
)
async def test_bad_filter_values_are_400_naming_the_parameter(
    api: Api, query: str, field: str
) -> None:
    response = await api.get(f"{PATH}?{query}")
    assert response.status == 400
    body = await response.json()
    assert body["error"] == "validation_error"
    assert [d["field"] for d in body["details"]] == [field]


async def test_asset_filter_and_sort(api: Api) -> None:
    first = await create_asset(api)
    second = await create_asset(api, tag_number="P-101A")
    a = await create_fm(api, first["id"], severity=2)
    b = await create_fm(api, first["id"], severity=9)
    c = await create_fm(api, second["id"], severity=4)
    listed = await (await api.get(f"{PATH}?asset_id={first['id']}&sort=-severity")).json()
    assert [f["id"] for f in listed["data"]] == [b["id"], a["id"]]
    assert listed["meta"]["total"] == 2
    listed = await (await api.get(f"{PATH}?sort=-detection&per_page=2")).json()
    # Equal detections: ties broken by id, in the sort's direction.
    expected = sorted([a["id"], b["id"], c["id"]], reverse=True)[:2]
    assert [f["id"] for f in listed["data"]] == expected
    assert listed["meta"] == {"page": 1, "per_page": 2, "total": 3, "total_pages": 2}


async def test_update_that_changes_rpn_emits_rpn_changed_once(api: Api) -> None:
    asset = await create_asset(api)
    fm = await create_fm(api, asset["id"], severity=5, occurrence=4, detection=5)
    response = await api.put(f"{PATH}/{fm['id']}", json={"detection": 10})
    assert response.status == 200
    updated = (await response.json())["data"]
    assert (updated["rpn"], updated["priority"], updated["action_priority"]) == (200, "high", "M")
    assert updated["updated_at"] > fm["updated_at"]
    events = [e for e in await events_of(api) if e["type"] == "fmea.rpn_changed"]
    assert len(events) == 1
    event = events[0]
    assert (event["resource_type"], event["resource_id"]) == ("failure_mode", fm["id"])
    data = json.loads(event["data"])
    assert data["before"]["rpn"] == 100 and data["after"]["rpn"] == 200
    assert data["before"] == fm and data["after"] == updated


async def test_update_without_rpn_change_emits_nothing(api: Api) -> None:
    asset = await create_asset(api)
    fm = await create_fm(api, asset["id"], severity=4, occurrence=8, detection=5)
    assert (fm["rpn"], fm["action_priority"]) == (160, "H")
    # Text only.
    response = await api.put(f"{PATH}/{fm['id']}", json={"cause": "Wet CO2", "effect": None})
    assert response.status == 200
    assert (await response.json())["data"]["cause"] == "Wet CO2"
    # S and O swapped: same RPN, different action priority, still no rpn_changed.
    response = await api.put(f"{PATH}/{fm['id']}", json={"severity": 8, "occurrence": 4})
    updated = (await response.json())["data"]
    assert (updated["rpn"], updated["action_priority"], updated["priority"]) == (160, "M", "medium")
    # Nothing at all changed: the row is untouched.
    again = await api.put(f"{PATH}/{fm['id']}", json={"severity": 8, "asset_id": asset["id"]})
    assert (await again.json())["data"] == updated
    assert [e["type"] for e in await events_of(api)] == ["asset.created"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({"severity": None}, "severity", id="required-to-null"),
        pytest.param({"description": None}, "description", id="description-to-null"),
        pytest.param({"occurrence": 11}, "occurrence", id="out-of-range"),
        pytest.param({"detection": "3"}, "detection", id="string-number"),
        pytest.param({"rpn": 5}, "rpn", id="computed-is-not-writable"),
        pytest.param({"asset_id": "ast_01ZZZZZZZZZZZZZZZZZZZZZZZZ"}, "asset_id", id="move"),
    ],
)
async def test_bad_update_is_400_and_changes_nothing(
    api: Api, body: dict[str, Any], field: str
) -> None:
    asset = await create_asset(api)
    fm = await create_fm(api, asset["id"])
    response = await api.put(f"{PATH}/{fm['id']}", json=body)
    assert response.status == 400
    assert [d["field"] for d in (await response.json())["details"]] == [field]
    assert (await (await api.get(f"{PATH}/{fm['id']}")).json())["data"] == fm


async def test_asset_id_of_another_existing_asset_cannot_be_set(api: Api) -> None:
    asset = await create_asset(api)
    other = await create_asset(api, tag_number="TK-12")
    fm = await create_fm(api, asset["id"])
    response = await api.put(f"{PATH}/{fm['id']}", json={"asset_id": other["id"]})
    assert response.status == 400
    assert (await response.json())["details"][0]["field"] == "asset_id"


VALID = {"description": "Pitting", "severity": 5, "occurrence": 5, "detection": 5}


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        pytest.param(
            {},
            ["asset_id", "description", "severity", "occurrence", "detection"],
            id="empty",
        ),
        pytest.param({**VALID, "severity": 0}, ["severity"], id="severity-0"),
        pytest.param({**VALID, "occurrence": 11}, ["occurrence"], id="occurrence-11"),
        pytest.param({**VALID, "detection": 5.0}, ["detection"], id="float"),
        pytest.param({**VALID, "detection": True}, ["detection"], id="bool"),
        pytest.param({**VALID, "severity": 10**20}, ["severity"], id="huge"),
        pytest.param({**VALID, "description": ""}, ["description"], id="empty-description"),
        pytest.param({**VALID, "failure_mechanism": "a\nb"}, ["failure_mechanism"], id="newline"),
        pytest.param({**VALID, "priority": "low"}, ["priority"], id="computed-field"),
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
    assert await count_rows(api, "failure_modes") == 0


@pytest.mark.parametrize("asset_id", ["ast_01ZZZZZZZZZZZZZZZZZZZZZZZZ", "other-tenant"])
async def test_asset_not_in_tenant_is_400_naming_asset_id(api: Api, asset_id: str) -> None:
    if asset_id == "other-tenant":
        other_key, _ = await api.new_key(tenant=await api.new_tenant("globex"))
        response = await api.post(
            "/api/v1/assets",
            json={"tag_number": "V-1", "name": "n", "asset_type": "tank"},
            key=other_key,
        )
        asset_id = (await response.json())["data"]["id"]
    response = await api.post(PATH, json={**VALID, "asset_id": asset_id})
    assert response.status == 400
    body = await response.json()
    assert body["details"] == [{"field": "asset_id", "message": "no asset with this id exists"}]
    assert await count_rows(api, "failure_modes") == 0
    assert await events_of(api) == []


async def test_other_tenants_failure_mode_is_404(api: Api) -> None:
    fm = await create_fm(api, (await create_asset(api))["id"])
    other_key, _ = await api.new_key(tenant=await api.new_tenant("globex"))
    for method in ("get", "delete"):
        response = await getattr(api, method)(f"{PATH}/{fm['id']}", key=other_key)
        assert response.status == 404
    response = await api.put(f"{PATH}/{fm['id']}", json={"severity": 1}, key=other_key)
    assert response.status == 404
    assert (await (await api.get(f"{PATH}/{fm['id']}")).json())["data"] == fm


async def insert_action(api: Api, failure_mode_id: str) -> str:
    """An action row pointing at the failure mode, written directly (actions are not ours)."""
    at = "2026-01-01T00:00:00.000000Z"
    row = {"id": "act_1", "title": "Re-inspect", "priority": "high"}
    row |= {"failure_mode_id": failure_mode_id, "created_at": at, "updated_at": at}
    await insert_row(api, "actions", row)
    return "act_1"


async def test_delete_is_hard_204_and_detaches_actions(api: Api) -> None:
    asset = await create_asset(api)
    fm = await create_fm(api, asset["id"])
    keep = await create_fm(api, asset["id"])
    action_id = await insert_action(api, fm["id"])
    response = await api.delete(f"{PATH}/{fm['id']}")
    assert response.status == 204
    assert await response.read() == b""
    assert (await api.get(f"{PATH}/{fm['id']}")).status == 404
    assert (await api.delete(f"{PATH}/{fm['id']}")).status == 404
    listed = await (await api.get(PATH)).json()
    assert [f["id"] for f in listed["data"]] == [keep["id"]]
    (action,) = await tenant_sql(
        api, "SELECT failure_mode_id, updated_at FROM actions WHERE id = ?", (action_id,)
    )
    # The action stays, detached, and an updated_since sync sees that it changed.
    assert action["failure_mode_id"] is None
    assert action["updated_at"] > "2026-01-01T00:00:00.000000Z"
    # No SPEC §7 event type exists for a deleted failure mode.
    assert [e["type"] for e in await events_of(api)] == ["asset.created"]


async def test_read_only_key_can_list_but_not_write(api: Api) -> None:
    asset = await create_asset(api)
    fm = await create_fm(api, asset["id"])
    key, _ = await api.new_key("read_only")
    assert (await api.get(PATH, key=key)).status == 200
    for response in (
        await api.post(PATH, json={**VALID, "asset_id": asset["id"]}, key=key),
        await api.put(f"{PATH}/{fm['id']}", json={"severity": 1}, key=key),
        await api.delete(f"{PATH}/{fm['id']}", key=key),
    ):
        assert response.status == 403
        assert (await response.json())["message"].endswith("failure_modes:write")


async def test_updated_since(api: Api) -> None:
    asset = await create_asset(api)
    first = await create_fm(api, asset["id"])
    second = await create_fm(api, asset["id"])
    since = second["created_at"]
    listed = await (await api.get(f"{PATH}?updated_since={since}")).json()
    assert [f["id"] for f in listed["data"]] == [second["id"]]
    await api.put(f"{PATH}/{first['id']}", json={"cause": "x"})
    listed = await (await api.get(f"{PATH}?updated_since={since}&sort=updated_at")).json()
    assert [f["id"] for f in listed["data"]] == [second["id"], first["id"]]
