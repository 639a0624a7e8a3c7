"""MOC API against the real server (SPEC §5 MOC, §6 MOC lifecycle, §7 events)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reliatic_appliance.domain.lifecycle import MOC_STATUSES
from tests.conftest import ASSET, Api, create_asset, events_of

MOC = {"title": "Replace PSV-101 with a larger orifice", "requested_by": "a.engineer"}
FIELDS = {
    "id",
    "title",
    "description",
    "asset_id",
    "requested_by",
    "status",
    "history",
    "created_at",
    "updated_at",
}


async def create_moc(api: Api, key: str | None = None, **fields: Any) -> dict[str, Any]:
    response = await api.post("/api/v1/mocs", json={**MOC, **fields}, key=key)
    assert response.status == 201, await response.text()
    return (await response.json())["data"]


async def get_moc(api: Api, moc_id: str) -> dict[str, Any]:
    response = await api.get(f"/api/v1/mocs/{moc_id}")
    assert response.status == 200, await response.text()
    return (await response.json())["data"]


async def move(api: Api, moc_id: str, status: str, comment: str | None = None) -> Any:
    body: dict[str, Any] = {"status": status}
    if comment is not None:
        body["comment"] = comment
    return await api.put(f"/api/v1/mocs/{moc_id}/status", json=body)


async def walk(api: Api, moc_id: str, path: list[str]) -> None:
    for status in path:
        response = await move(api, moc_id, status)
        assert response.status == 200, (status, await response.text())


async def status_events(api: Api) -> list[dict[str, Any]]:
    return [
        {**e, "data": json.loads(e["data"])}
        for e in await events_of(api)
        if e["type"] == "moc.status_changed"
    ]


# -- create, read, update ----------------------------------------------------------------


async def test_create_is_draft_with_creation_history_and_every_field(api: Api) -> None:
    asset = await create_asset(api)
    events_before = len(await events_of(api))
    response = await api.post(
        "/api/v1/mocs", json={**MOC, "asset_id": asset["id"], "description": "Relief load up"}
    )
    assert response.status == 201
    moc = (await response.json())["data"]
    assert set(moc) == FIELDS
    assert response.headers["Location"] == f"/api/v1/mocs/{moc['id']}"
    assert moc["status"] == "draft" and moc["asset_id"] == asset["id"]
    assert moc["history"] == [
        {"from": None, "to": "draft", "comment": None, "at": moc["created_at"], "by": api.key_id}
    ]
    assert await get_moc(api, moc["id"]) == moc
    assert len(await events_of(api)) == events_before


async def test_response_matches_openapi_schema(api: Api) -> None:
    doc = await (await api.client.get("/api/v1/openapi.json")).json()
    schema = doc["components"]["schemas"]["Moc"]
    moc = await create_moc(api)
    assert set(schema["properties"]) == set(moc) == set(schema["required"])


@pytest.mark.parametrize(
    ("method", "suffix", "body", "fields"),
    [
        pytest.param("POST", "", {**MOC, "status": "draft"}, ["status"], id="status-on-create"),
        pytest.param("PUT", "/{id}", {"status": "submitted"}, ["status"], id="status-on-put"),
        pytest.param("POST", "", {"title": "x"}, ["requested_by"], id="missing-requested-by"),
        pytest.param("POST", "", {**MOC, "requested_by": ""}, ["requested_by"], id="empty"),
        pytest.param("PUT", "/{id}", {"requested_by": None}, ["requested_by"], id="null-required"),
        pytest.param("POST", "", {**MOC, "asset_id": 7}, ["asset_id"], id="asset-id-type"),
    ],
)
async def test_bad_body_is_400_and_writes_nothing(
    api: Api, method: str, suffix: str, body: dict[str, Any], fields: list[str]
) -> None:
    moc = await create_moc(api)
    response = await api.request(method, "/api/v1/mocs" + suffix.format(id=moc["id"]), json=body)
    assert response.status == 400
    error = await response.json()
    assert error["error"] == "validation_error"
    assert [d["field"] for d in error["details"]] == fields
    listing = await (await api.get("/api/v1/mocs")).json()
    assert listing["data"] == [moc]


async def test_partial_update(api: Api) -> None:
    asset = await create_asset(api)
    moc = await create_moc(api, description="first")
    response = await api.put(f"/api/v1/mocs/{moc['id']}", json={"asset_id": asset["id"]})
    assert response.status == 200
    updated = (await response.json())["data"]
    assert updated["asset_id"] == asset["id"] and updated["description"] == "first"
    assert updated["updated_at"] > moc["updated_at"] and updated["status"] == "draft"
    same = await api.put(f"/api/v1/mocs/{moc['id']}", json={"asset_id": asset["id"]})
    assert (await same.json())["data"] == updated
    assert [e["type"] for e in await events_of(api)] == ["asset.created"]


async def test_asset_must_be_in_this_tenant(api: Api) -> None:
    other = await api.new_tenant("other")
    other_key, _ = await api.new_key(tenant=other)
    response = await api.post("/api/v1/assets", json=ASSET, key=other_key)
    foreign = (await response.json())["data"]
    for asset_id in (foreign["id"], "ast_01ZZZZZZZZZZZZZZZZZZZZZZZZ"):
        response = await api.post("/api/v1/mocs", json={**MOC, "asset_id": asset_id})
        assert response.status == 400
        assert (await response.json())["details"][0]["field"] == "asset_id"
    moc = await create_moc(api)
    response = await api.put(f"/api/v1/mocs/{moc['id']}", json={"asset_id": foreign["id"]})
    assert response.status == 400
    assert (await response.json())["details"][0]["field"] == "asset_id"
    assert await get_moc(api, moc["id"]) == moc
    assert (await (await api.get("/api/v1/mocs")).json())["meta"]["total"] == 1
    # And the other tenant's MOCs are invisible here.
    foreign_moc = await create_moc(api, key=other_key)
    assert (await api.get(f"/api/v1/mocs/{foreign_moc['id']}")).status == 404


async def test_delete_is_not_allowed_and_read_only_cannot_move(api: Api) -> None:
    moc = await create_moc(api)
    assert (await api.delete(f"/api/v1/mocs/{moc['id']}")).status == 405
    key, _ = await api.new_key("read_only")
    assert (await api.get(f"/api/v1/mocs/{moc['id']}", key=key)).status == 200
    response = await api.put(
        f"/api/v1/mocs/{moc['id']}/status", key=key, json={"status": "submitted"}
    )
    assert response.status == 403
    assert (await response.json())["message"] == "API key lacks required permission: mocs:write"
    assert await get_moc(api, moc["id"]) == moc
    assert await events_of(api) == []


# -- lifecycle ---------------------------------------------------------------------------

WALKS = [
    pytest.param(
        ["submitted", "under_review", "approved", "implemented", "closed"], id="approved-closed"
    ),
    pytest.param(
        [
            "submitted",
            "under_review",
            "rejected",
            "draft",
            "submitted",
            "under_review",
            "approved",
            "implemented",
            "closed",
        ],
        id="rejected-reworked-closed",
    ),
    pytest.param(["cancelled"], id="draft-cancelled"),
    pytest.param(["submitted", "cancelled"], id="submitted-cancelled"),
]


@pytest.mark.parametrize("path", WALKS)
async def test_lifecycle_walk_keeps_history_and_emits_one_event_per_step(
    api: Api, path: list[str]
) -> None:
    moc = await create_moc(api)
    previous = "draft"
    for step, status in enumerate(path, start=1):
        response = await move(api, moc["id"], status, f"step {step}")
        assert response.status == 200, (status, await response.text())
        moved = (await response.json())["data"]
        assert moved["status"] == status
        assert moved["history"][-1] == {
            "from": previous,
            "to": status,
            "comment": f"step {step}",
            "at": moved["updated_at"],
            "by": api.key_id,
        }
        events = await status_events(api)
        assert len(events) == step
        assert events[-1]["resource_type"] == "moc" and events[-1]["resource_id"] == moc["id"]
        assert events[-1]["data"]["before"]["status"] == previous
        assert events[-1]["data"]["after"] == moved
        previous = status
    final = await get_moc(api, moc["id"])
    assert [h["to"] for h in final["history"]] == ["draft", *path]


TO_REVIEW = ["submitted", "under_review"]
FORBIDDEN = [
    pytest.param([], "approved", ["cancelled", "submitted"], id="draft-to-approved"),
    pytest.param([], "draft", ["cancelled", "submitted"], id="draft-to-draft"),
    pytest.param([], "closed", ["cancelled", "submitted"], id="draft-to-closed"),
    pytest.param(["submitted"], "approved", ["cancelled", "under_review"], id="skip-review"),
    pytest.param(TO_REVIEW, "cancelled", ["approved", "rejected"], id="cancel-under-review"),
    pytest.param(TO_REVIEW, "implemented", ["approved", "rejected"], id="skip-approval"),
    pytest.param([*TO_REVIEW, "approved"], "closed", ["implemented"], id="skip-implementation"),
    pytest.param([*TO_REVIEW, "approved"], "rejected", ["implemented"], id="approved-rejected"),
    pytest.param([*TO_REVIEW, "rejected"], "submitted", ["draft"], id="rejected-resubmitted"),
    pytest.param([*TO_REVIEW, "rejected"], "cancelled", ["draft"], id="rejected-cancelled"),
    *(
        pytest.param(
            [*TO_REVIEW, "approved", "implemented", "closed"], target, [], id=f"closed-to-{target}"
        )
        for target in MOC_STATUSES
    ),
    *(
        pytest.param(["cancelled"], target, [], id=f"cancelled-to-{target}")
        for target in MOC_STATUSES
    ),
]


@pytest.mark.parametrize(("path", "target", "allowed"), FORBIDDEN)
async def test_forbidden_transition_is_409_listing_allowed_and_writes_nothing(
    api: Api, path: list[str], target: str, allowed: list[str]
) -> None:
    moc = await create_moc(api)
    await walk(api, moc["id"], path)
    before = await get_moc(api, moc["id"])
    events_before = await events_of(api)
    response = await move(api, moc["id"], target)
    assert response.status == 409
    error = await response.json()
    current = before["status"]
    assert error["error"] == "conflict"
    assert f"'{current}'" in error["message"] and f"'{target}'" in error["message"]
    assert [(d["field"], d["current"], d["allowed"]) for d in error["details"]] == [
        ("status", current, allowed)
    ]
    assert await get_moc(api, moc["id"]) == before
    assert await events_of(api) == events_before


@pytest.mark.parametrize("status", ["open", "in_progress", "verified", "", "DRAFT"])
async def test_action_or_unknown_status_is_400(api: Api, status: str) -> None:
    moc = await create_moc(api)
    response = await move(api, moc["id"], status)
    assert response.status == 400
    assert (await response.json())["details"][0]["field"] == "status"
    assert await get_moc(api, moc["id"]) == moc


async def test_final_moc_fields_are_frozen(api: Api) -> None:
    moc = await create_moc(api)
    await walk(api, moc["id"], ["cancelled"])
    frozen = await get_moc(api, moc["id"])
    response = await api.put(f"/api/v1/mocs/{moc['id']}", json={"title": "Rewritten history"})
    assert response.status == 409
    assert (await response.json())["details"][0]["current"] == "cancelled"
    assert await get_moc(api, moc["id"]) == frozen


# -- lists -------------------------------------------------------------------------------


async def titles(api: Api, query: str) -> list[str]:
    response = await api.get(f"/api/v1/mocs?{query}")
    assert response.status == 200, await response.text()
    return [m["title"] for m in (await response.json())["data"]]


async def test_filters_sort_and_histories(api: Api) -> None:
    asset = await create_asset(api)
    rows = [
        ("a-draft", None, []),
        ("b-review", asset["id"], ["submitted", "under_review"]),
        ("c-submitted", asset["id"], ["submitted"]),
        ("d-cancelled", None, ["cancelled"]),
    ]
    for title, asset_id, path in rows:
        moc = await create_moc(api, title=title, asset_id=asset_id)
        await walk(api, moc["id"], path)
    assert await titles(api, "status=submitted") == ["c-submitted"]
    assert await titles(api, f"asset_id={asset['id']}") == ["b-review", "c-submitted"]
    assert await titles(api, f"asset_id={asset['id']}&status=draft") == []
    assert await titles(api, "sort=created_at") == [
        "a-draft",
        "b-review",
        "c-submitted",
        "d-cancelled",
    ]
    # Each row's last change is its last status move, made in creation order.
    assert await titles(api, "sort=-updated_at") == [
        "d-cancelled",
        "c-submitted",
        "b-review",
        "a-draft",
    ]
    listed = (await (await api.get("/api/v1/mocs")).json())["data"]
    for item in listed:
        assert item == await get_moc(api, item["id"])
    assert [len(m["history"]) for m in listed] == [1, 3, 2, 2]
    since = listed[2]["updated_at"]
    assert sorted(await titles(api, f"updated_since={since}")) == ["c-submitted", "d-cancelled"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=open", "status"),
        ("sort=title", "sort"),
        ("sort=status", "sort"),
        ("asset_id=%00", "asset_id"),
        ("requested_by=x", "requested_by"),
    ],
)
async def test_bad_filter_is_400_naming_parameter(api: Api, query: str, field: str) -> None:
    response = await api.get(f"/api/v1/mocs?{query}")
    assert response.status == 400
    assert [d["field"] for d in (await response.json())["details"]] == [field]
