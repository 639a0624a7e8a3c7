"""Actions API against the real server (SPEC §5 Actions, §6 action lifecycle, §7 events)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from reliatic_appliance.domain.lifecycle import ACTION_STATUSES
from tests.conftest import ASSET, Api, create_asset, events_of, insert_row, tenant_sql

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
ACTION = {"title": "Replace corroded nozzle N3", "priority": "high"}
FIELDS = {
    "id",
    "title",
    "description",
    "priority",
    "status",
    "asset_id",
    "failure_mode_id",
    "inspection_id",
    "assignee_id",
    "due_date",
    "history",
    "created_at",
    "updated_at",
}
PAST = "2000-01-01"
FUTURE = "2999-01-01"


async def create_action(api: Api, key: str | None = None, **fields: Any) -> dict[str, Any]:
    response = await api.post("/api/v1/actions", json={**ACTION, **fields}, key=key)
    assert response.status == 201, await response.text()
    return (await response.json())["data"]


async def get_action(api: Api, action_id: str) -> dict[str, Any]:
    response = await api.get(f"/api/v1/actions/{action_id}")
    assert response.status == 200, await response.text()
    return (await response.json())["data"]


async def move(api: Api, action_id: str, status: str, comment: str | None = None) -> Any:
    body: dict[str, Any] = {"status": status}
    if comment is not None:
        body["comment"] = comment
    return await api.put(f"/api/v1/actions/{action_id}/status", json=body)


async def walk(api: Api, action_id: str, path: list[str]) -> None:
    for status in path:
        response = await move(api, action_id, status)
        assert response.status == 200, (status, await response.text())


async def status_events(api: Api) -> list[dict[str, Any]]:
    return [
        {**e, "data": json.loads(e["data"])}
        for e in await events_of(api)
        if e["type"] == "action.status_changed"
    ]


async def insert_rows(api: Api, table: str, rows: list[dict[str, Any]], tenant_id: str) -> None:
    """Failure modes and inspections straight into the tenant's data, so these tests depend
    only on the schema, not on the FMEA and inspection endpoints."""
    for row in rows:
        await insert_row(api, table, row, tenant_id=tenant_id)


def failure_mode(row_id: str, asset_id: str) -> dict[str, Any]:
    return {
        "id": row_id,
        "asset_id": asset_id,
        "description": "External corrosion under insulation",
        "severity": 8,
        "occurrence": 5,
        "detection": 6,
        "rpn": 240,
        "priority": "high",
        "action_priority": "M",
        "created_at": "2026-01-01T00:00:00.000000Z",
        "updated_at": "2026-01-01T00:00:00.000000Z",
    }


def inspection(row_id: str, asset_id: str) -> dict[str, Any]:
    return {
        "id": row_id,
        "asset_id": asset_id,
        "inspection_type": "ut_spot",
        "inspection_date": "2026-01-01",
        "inspector_name": "A. Inspector",
        "status": "completed",
        "effectiveness": "C",
        "created_at": "2026-01-01T00:00:00.000000Z",
        "updated_at": "2026-01-01T00:00:00.000000Z",
    }


async def create_foreign_asset(api: Api, key: str) -> dict[str, Any]:
    response = await api.post("/api/v1/assets", json=ASSET, key=key)
    assert response.status == 201, await response.text()
    return (await response.json())["data"]


# -- create, read, update ----------------------------------------------------------------


async def test_create_is_open_with_creation_history_and_every_field(api: Api) -> None:
    asset = await create_asset(api)
    events_before = len(await events_of(api))
    response = await api.post(
        "/api/v1/actions",
        json={
            **ACTION,
            "description": "Wall loss at N3",
            "asset_id": asset["id"],
            "assignee_id": "jsmith",
            "due_date": "2026-06-30",
        },
    )
    assert response.status == 201
    action = (await response.json())["data"]
    assert set(action) == FIELDS  # escalation_level stays internal
    assert response.headers["Location"] == f"/api/v1/actions/{action['id']}"
    assert action["status"] == "open"
    assert action["due_date"] == "2026-06-30"
    assert action["failure_mode_id"] is None and action["inspection_id"] is None
    assert TIMESTAMP.match(action["created_at"]) and action["created_at"] == action["updated_at"]
    assert action["history"] == [
        {"from": None, "to": "open", "comment": None, "at": action["created_at"], "by": api.key_id}
    ]
    assert await get_action(api, action["id"]) == action
    # §7 has no action.created: creating an action emits nothing.
    assert len(await events_of(api)) == events_before


async def test_response_matches_openapi_schema(api: Api) -> None:
    doc = await (await api.client.get("/api/v1/openapi.json")).json()
    schema = doc["components"]["schemas"]["Action"]
    action = await create_action(api)
    assert set(schema["properties"]) == set(action) == set(schema["required"])
    entry = doc["components"]["schemas"]["HistoryEntry"]
    assert set(entry["properties"]) == set(action["history"][0]) == set(entry["required"])


@pytest.mark.parametrize(
    ("method", "path_suffix", "body"),
    [
        pytest.param("POST", "", {**ACTION, "status": "open"}, id="status-on-create"),
        pytest.param("PUT", "/{id}", {"status": "in_progress"}, id="status-on-put"),
        pytest.param("PUT", "/{id}", {"escalation_level": 0}, id="escalation-level-on-put"),
    ],
)
async def test_status_is_not_a_writable_field(
    api: Api, method: str, path_suffix: str, body: dict[str, Any]
) -> None:
    action = await create_action(api)
    path = "/api/v1/actions" + path_suffix.format(id=action["id"])
    response = await api.request(method, path, json=body)
    assert response.status == 400
    error = await response.json()
    assert error["error"] == "validation_error"
    assert [d["field"] for d in error["details"]] == [next(k for k in body if k not in ACTION)]
    listing = await (await api.get("/api/v1/actions")).json()
    assert listing["meta"]["total"] == 1
    assert listing["data"][0] == action


async def test_partial_update_changes_only_sent_fields_and_emits_nothing(api: Api) -> None:
    action = await create_action(api, assignee_id="jsmith", description="first")
    response = await api.put(
        f"/api/v1/actions/{action['id']}", json={"due_date": "2026-07-15", "priority": "low"}
    )
    assert response.status == 200
    updated = (await response.json())["data"]
    assert updated["due_date"] == "2026-07-15" and updated["priority"] == "low"
    assert updated["assignee_id"] == "jsmith" and updated["description"] == "first"
    assert updated["status"] == "open" and updated["history"] == action["history"]
    assert updated["updated_at"] > action["updated_at"]
    assert await events_of(api) == []


async def test_update_nulls_optional_refuses_null_required_and_noop_keeps_updated_at(
    api: Api,
) -> None:
    action = await create_action(api, assignee_id="jsmith")
    cleared = await api.put(f"/api/v1/actions/{action['id']}", json={"assignee_id": None})
    assert (await cleared.json())["data"]["assignee_id"] is None
    for field in ("title", "priority"):
        response = await api.put(f"/api/v1/actions/{action['id']}", json={field: None})
        assert response.status == 400
        assert (await response.json())["details"][0]["field"] == field
    current = await get_action(api, action["id"])
    same = await api.put(f"/api/v1/actions/{action['id']}", json={"title": ACTION["title"]})
    assert (await same.json())["data"] == current


@pytest.mark.parametrize("final", ["closed", "cancelled"])
async def test_final_action_fields_are_frozen(api: Api, final: str) -> None:
    action = await create_action(api)
    path = ["in_progress", "completed", "verified", "closed"] if final == "closed" else [final]
    await walk(api, action["id"], path)
    frozen = await get_action(api, action["id"])
    response = await api.put(f"/api/v1/actions/{action['id']}", json={"title": "Changed"})
    assert response.status == 409
    error = await response.json()
    assert error["error"] == "conflict"
    assert error["details"][0]["field"] == "status" and error["details"][0]["current"] == final
    assert await get_action(api, action["id"]) == frozen
    # Re-sending what is already there (a sync client) is not a change.
    same = await api.put(f"/api/v1/actions/{action['id']}", json={"title": ACTION["title"]})
    assert same.status == 200


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        pytest.param("GET", "", None, id="get"),
        pytest.param("PUT", "", {"title": "x"}, id="put"),
        pytest.param("PUT", "/status", {"status": "in_progress"}, id="status"),
    ],
)
async def test_unknown_or_other_tenants_action_is_404(
    api: Api, method: str, suffix: str, body: dict[str, Any] | None
) -> None:
    other = await api.new_tenant("other")
    other_key, _ = await api.new_key(tenant=other)
    foreign = await create_action(api, key=other_key)
    for action_id in ("act_01ZZZZZZZZZZZZZZZZZZZZZZZZ", foreign["id"]):
        response = await api.request(method, f"/api/v1/actions/{action_id}{suffix}", json=body)
        assert response.status == 404, action_id
        assert (await response.json())["error"] == "not_found"


async def test_delete_is_not_allowed(api: Api) -> None:
    action = await create_action(api)
    response = await api.delete(f"/api/v1/actions/{action['id']}")
    assert response.status == 405
    assert (await response.json())["error"] == "method_not_allowed"
    assert await get_action(api, action["id"]) == action


async def test_read_only_key_reads_but_cannot_write_or_move(api: Api) -> None:
    action = await create_action(api)
    key, _ = await api.new_key("read_only")
    assert (await api.get("/api/v1/actions", key=key)).status == 200
    assert (await api.get(f"/api/v1/actions/{action['id']}", key=key)).status == 200
    for method, path, body in [
        ("POST", "/api/v1/actions", ACTION),
        ("PUT", f"/api/v1/actions/{action['id']}", {"title": "x"}),
        ("PUT", f"/api/v1/actions/{action['id']}/status", {"status": "in_progress"}),
    ]:
        response = await api.request(method, path, key=key, json=body)
        assert response.status == 403, path
        assert await response.json() == {
            "error": "forbidden",
            "message": "API key lacks required permission: actions:write",
            "details": [],
        }
    assert await get_action(api, action["id"]) == action
    assert await events_of(api) == []


# -- references --------------------------------------------------------------------------


async def test_references_must_exist_in_this_tenant_and_agree_on_the_asset(api: Api) -> None:
    mine = await create_asset(api, tag_number="V-1")
    second = await create_asset(api, tag_number="V-2")
    other = await api.new_tenant("other")
    other_key, _ = await api.new_key(tenant=other)
    foreign = await create_foreign_asset(api, other_key)
    await insert_rows(
        api,
        "failure_modes",
        [failure_mode("fm_MINE", mine["id"]), failure_mode("fm_SECOND", second["id"])],
        api.tenant["id"],
    )
    await insert_rows(
        api,
        "inspections",
        [inspection("ins_MINE", mine["id"]), inspection("ins_SECOND", second["id"])],
        api.tenant["id"],
    )
    await insert_rows(
        api, "failure_modes", [failure_mode("fm_FOREIGN", foreign["id"])], other["id"]
    )
    await insert_rows(api, "inspections", [inspection("ins_FOREIGN", foreign["id"])], other["id"])

    bad = [
        ({"asset_id": foreign["id"]}, "asset_id"),
        ({"asset_id": "ast_01ZZZZZZZZZZZZZZZZZZZZZZZZ"}, "asset_id"),
        ({"asset_id": "not an id"}, "asset_id"),
        ({"failure_mode_id": "fm_FOREIGN"}, "failure_mode_id"),
        ({"inspection_id": "ins_FOREIGN"}, "inspection_id"),
        ({"asset_id": mine["id"], "failure_mode_id": "fm_SECOND"}, "failure_mode_id"),
        ({"asset_id": mine["id"], "inspection_id": "ins_SECOND"}, "inspection_id"),
    ]
    for fields, field in bad:
        response = await api.post("/api/v1/actions", json={**ACTION, **fields})
        assert response.status == 400, fields
        error = await response.json()
        assert error["error"] == "validation_error"
        assert [d["field"] for d in error["details"]] == [field], fields
    assert (await (await api.get("/api/v1/actions")).json())["meta"]["total"] == 0

    linked = await create_action(
        api, asset_id=mine["id"], failure_mode_id="fm_MINE", inspection_id="ins_MINE"
    )
    assert (linked["failure_mode_id"], linked["inspection_id"]) == ("fm_MINE", "ins_MINE")
    # Without an asset, a failure mode of any asset of the tenant is fine.
    await create_action(api, failure_mode_id="fm_SECOND")

    # Moving the action to another asset would leave its failure mode behind.
    response = await api.put(f"/api/v1/actions/{linked['id']}", json={"asset_id": second["id"]})
    assert response.status == 400
    assert (await response.json())["details"][0]["field"] == "failure_mode_id"
    response = await api.put(
        f"/api/v1/actions/{linked['id']}", json={"failure_mode_id": "fm_FOREIGN"}
    )
    assert (await response.json())["details"][0]["field"] == "failure_mode_id"
    assert await get_action(api, linked["id"]) == linked
    moved = await api.put(
        f"/api/v1/actions/{linked['id']}",
        json={"asset_id": second["id"], "failure_mode_id": "fm_SECOND", "inspection_id": None},
    )
    assert moved.status == 200, await moved.text()


# -- lifecycle ---------------------------------------------------------------------------

WALKS = [
    pytest.param(
        [
            "in_progress",
            "on_hold",
            "in_progress",
            "completed",
            "in_progress",
            "completed",
            "verified",
            "closed",
        ],
        id="full-with-hold-and-rework",
    ),
    pytest.param(["cancelled"], id="open-cancelled"),
    pytest.param(["on_hold", "cancelled"], id="on-hold-cancelled"),
    pytest.param(["in_progress", "cancelled"], id="in-progress-cancelled"),
    pytest.param(["on_hold", "in_progress", "on_hold", "in_progress"], id="hold-and-resume"),
]


@pytest.mark.parametrize("path", WALKS)
async def test_lifecycle_walk_keeps_history_and_emits_one_event_per_step(
    api: Api, path: list[str]
) -> None:
    action = await create_action(api)
    previous = "open"
    for step, status in enumerate(path, start=1):
        comment = f"step {step}"
        response = await move(api, action["id"], status, comment)
        assert response.status == 200, (status, await response.text())
        moved = (await response.json())["data"]
        assert moved["status"] == status
        entry = moved["history"][-1]
        assert entry == {
            "from": previous,
            "to": status,
            "comment": comment,
            "at": moved["updated_at"],
            "by": api.key_id,
        }
        assert len(moved["history"]) == step + 1
        events = await status_events(api)
        assert len(events) == step
        event = events[-1]
        assert event["resource_type"] == "action" and event["resource_id"] == action["id"]
        assert event["actor"] == api.key_id
        assert event["data"]["before"]["status"] == previous
        assert event["data"]["after"] == moved
        assert len(event["data"]["before"]["history"]) == step
        previous = status
    final = await get_action(api, action["id"])
    assert [h["to"] for h in final["history"]] == ["open", *path]
    assert [h["from"] for h in final["history"]] == [None, "open", *path[:-1]]
    stamps = [h["at"] for h in final["history"]]
    assert stamps == sorted(stamps)


async def test_comment_is_optional_and_checked(api: Api) -> None:
    action = await create_action(api)
    moved = await move(api, action["id"], "in_progress")
    assert (await moved.json())["data"]["history"][-1]["comment"] is None
    response = await api.put(
        f"/api/v1/actions/{action['id']}/status", json={"status": "on_hold", "comment": "a\x00b"}
    )
    assert response.status == 400
    assert (await response.json())["details"][0]["field"] == "comment"


# (path to reach the state, forbidden target, the allowed next states listed in the 409)
FORBIDDEN = [
    pytest.param([], "open", ["cancelled", "in_progress", "on_hold"], id="open-to-open"),
    pytest.param([], "completed", ["cancelled", "in_progress", "on_hold"], id="open-to-completed"),
    pytest.param([], "verified", ["cancelled", "in_progress", "on_hold"], id="open-to-verified"),
    pytest.param([], "closed", ["cancelled", "in_progress", "on_hold"], id="open-to-closed"),
    pytest.param(
        ["in_progress"], "open", ["cancelled", "completed", "on_hold"], id="in-progress-to-open"
    ),
    pytest.param(
        ["in_progress"], "verified", ["cancelled", "completed", "on_hold"], id="skip-completion"
    ),
    pytest.param(["on_hold"], "completed", ["cancelled", "in_progress"], id="on-hold-to-completed"),
    pytest.param(
        ["in_progress", "completed"], "closed", ["in_progress", "verified"], id="skip-verification"
    ),
    pytest.param(
        ["in_progress", "completed"],
        "cancelled",
        ["in_progress", "verified"],
        id="cancel-completed",
    ),
    pytest.param(
        ["in_progress", "completed", "verified"], "in_progress", ["closed"], id="verified-rework"
    ),
    *(
        pytest.param(
            ["in_progress", "completed", "verified", "closed"], target, [], id=f"closed-to-{target}"
        )
        for target in ACTION_STATUSES
    ),
    *(
        pytest.param(["cancelled"], target, [], id=f"cancelled-to-{target}")
        for target in ACTION_STATUSES
    ),
]


@pytest.mark.parametrize(("path", "target", "allowed"), FORBIDDEN)
async def test_forbidden_transition_is_409_listing_allowed_and_writes_nothing(
    api: Api, path: list[str], target: str, allowed: list[str]
) -> None:
    action = await create_action(api)
    await walk(api, action["id"], path)
    before = await get_action(api, action["id"])
    events_before = await events_of(api)
    response = await move(api, action["id"], target, "should not stick")
    assert response.status == 409
    error = await response.json()
    current = before["status"]
    assert error["error"] == "conflict"
    assert f"'{current}'" in error["message"] and f"'{target}'" in error["message"]
    assert len(error["details"]) == 1
    detail = error["details"][0]
    assert detail["field"] == "status"
    assert detail["allowed"] == allowed
    assert detail["current"] == current
    assert await get_action(api, action["id"]) == before
    assert await events_of(api) == events_before


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"status": "done"}, id="unknown-status"),
        pytest.param({"status": "draft"}, id="moc-status"),
        pytest.param({"status": None}, id="null-status"),
        pytest.param({}, id="missing-status"),
        pytest.param({"status": "in_progress", "by": "someone"}, id="unknown-field"),
    ],
)
async def test_bad_status_body_is_400(api: Api, body: dict[str, Any]) -> None:
    action = await create_action(api)
    response = await api.put(f"/api/v1/actions/{action['id']}/status", json=body)
    assert response.status == 400
    error = await response.json()
    assert error["error"] == "validation_error"
    assert error["details"][0]["field"] in {"status", "by"}
    assert await get_action(api, action["id"]) == action


async def test_rework_restarts_sla_escalation(api: Api) -> None:
    action = await create_action(api, due_date=PAST)

    async def level() -> int:
        rows = await tenant_sql(
            api, "SELECT escalation_level FROM actions WHERE id = ?", (action["id"],)
        )
        return int(rows[0]["escalation_level"])

    async def set_level(value: int) -> None:
        await tenant_sql(
            api,
            "UPDATE actions SET escalation_level = ? WHERE id = ?",
            (value, action["id"]),
            write=True,
        )

    await set_level(2)
    await walk(api, action["id"], ["in_progress", "on_hold", "in_progress", "completed"])
    assert await level() == 2  # moves between open states keep the level already raised
    await walk(api, action["id"], ["in_progress"])
    assert await level() == 0


# -- lists -------------------------------------------------------------------------------


async def seed(api: Api) -> dict[str, dict[str, Any]]:
    first = await create_asset(api, tag_number="V-1")
    second = await create_asset(api, tag_number="V-2")
    made = {}
    rows = [
        ("late-open", "high", "jsmith", first, PAST, []),
        ("late-progress", "critical", "jsmith", first, PAST, ["in_progress"]),
        ("late-hold", "low", "mjones", second, "2001-02-03", ["on_hold"]),
        ("late-done", "high", "mjones", second, PAST, ["in_progress", "completed"]),
        ("late-cancelled", "medium", None, None, PAST, ["cancelled"]),
        ("future-open", "medium", "jsmith", None, FUTURE, []),
        ("no-due", "low", None, first, None, ["in_progress"]),
    ]
    for title, priority, assignee, asset, due, path in rows:
        action = await create_action(
            api,
            title=title,
            priority=priority,
            assignee_id=assignee,
            asset_id=asset["id"] if asset else None,
            due_date=due,
        )
        await walk(api, action["id"], path)
        made[title] = action
    return made


async def titles(api: Api, query: str) -> list[str]:
    response = await api.get(f"/api/v1/actions?{query}")
    assert response.status == 200, await response.text()
    return [a["title"] for a in (await response.json())["data"]]


async def test_filters(api: Api) -> None:
    made = await seed(api)
    asset_id = made["late-open"]["asset_id"]
    everything = await titles(api, "")
    assert sorted(await titles(api, "status=in_progress")) == ["late-progress", "no-due"]
    assert sorted(await titles(api, "priority=high")) == ["late-done", "late-open"]
    assert sorted(await titles(api, "assignee_id=jsmith")) == [
        "future-open",
        "late-open",
        "late-progress",
    ]
    assert sorted(await titles(api, f"asset_id={asset_id}")) == [
        "late-open",
        "late-progress",
        "no-due",
    ]
    overdue = ["late-hold", "late-open", "late-progress"]
    assert sorted(await titles(api, "overdue=true")) == overdue
    assert sorted(await titles(api, "overdue=false")) == sorted(
        t for t in everything if t not in overdue
    )
    assert await titles(api, "overdue=true&priority=critical") == ["late-progress"]
    assert await titles(api, "assignee_id=' OR 1=1 --") == []


async def test_sort_by_due_date_and_default_order(api: Api) -> None:
    await seed(api)
    ascending = await titles(api, "sort=due_date&per_page=100")
    # NULL due dates sort first ascending; ties (same date) by id, i.e. creation order.
    assert ascending == [
        "no-due",
        "late-open",
        "late-progress",
        "late-done",
        "late-cancelled",
        "late-hold",
        "future-open",
    ]
    assert await titles(api, "sort=-due_date") == list(reversed(ascending))
    response = await api.get("/api/v1/actions")
    ids = [a["id"] for a in (await response.json())["data"]]
    assert ids == sorted(ids)


async def test_list_items_carry_their_own_history(api: Api) -> None:
    made = await seed(api)
    response = await api.get("/api/v1/actions?per_page=3&page=2")
    body = await response.json()
    assert body["meta"] == {"page": 2, "per_page": 3, "total": 7, "total_pages": 3}
    for item in body["data"]:
        assert item == await get_action(api, item["id"])
    listed = {a["title"]: a for a in (await (await api.get("/api/v1/actions")).json())["data"]}
    assert [h["to"] for h in listed["late-done"]["history"]] == [
        "open",
        "in_progress",
        "completed",
    ]
    assert [h["to"] for h in listed["future-open"]["history"]] == ["open"]
    assert set(listed) == set(made)


async def test_updated_since_follows_status_changes(api: Api) -> None:
    first = await create_action(api, title="first")
    second = await create_action(api, title="second")
    since = second["created_at"]
    assert await titles(api, f"updated_since={since}") == ["second"]
    await walk(api, first["id"], ["in_progress"])
    assert sorted(await titles(api, f"updated_since={since}")) == ["first", "second"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=done", "status"),
        ("priority=urgent", "priority"),
        ("overdue=maybe", "overdue"),
        ("sort=priority", "sort"),
        ("sort=title", "sort"),
        ("asset_id=", "asset_id"),
        ("assignee_id=", "assignee_id"),
        ("updated_since=yesterday", "updated_since"),
        ("escalation_level=1", "escalation_level"),
    ],
)
async def test_bad_filter_is_400_naming_parameter(api: Api, query: str, field: str) -> None:
    response = await api.get(f"/api/v1/actions?{query}")
    assert response.status == 400
    error = await response.json()
    assert error["error"] == "validation_error"
    assert [d["field"] for d in error["details"]] == [field]
