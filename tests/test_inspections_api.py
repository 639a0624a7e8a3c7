"""Inspections API against the real server (SPEC §3, §5 Inspections, §6 effectiveness and
corrosion), including the asset's computed fields that completed inspections drive."""

from __future__ import annotations

import datetime
import json
import math
import re
from typing import Any

import pytest

from reliatic_appliance.keys import TENANT_DBS
from tests.conftest import Api, create_asset, events_of

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
FIELDS = {
    "id",
    "asset_id",
    "inspection_type",
    "inspection_date",
    "inspector_name",
    "coverage_percent",
    "status",
    "findings",
    "min_measured_thickness_mm",
    "effectiveness",
    "created_at",
    "updated_at",
}


def body(asset_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "asset_id": asset_id,
        "inspection_type": "ut_scanning",
        "inspection_date": "2024-03-01",
        "inspector_name": "J. Smith",
        **fields,
    }


async def create_inspection(api: Api, asset_id: str, **fields: Any) -> dict[str, Any]:
    response = await api.post("/api/v1/inspections", json=body(asset_id, **fields))
    assert response.status == 201, await response.text()
    return (await response.json())["data"]


async def written(api: Api) -> tuple[int, int]:
    """(inspection rows, event rows) of the api's tenant."""
    db = await api.client.app[TENANT_DBS].get(api.tenant["id"])
    return await db.read(lambda tx: (tx.inspections.count_all(), tx.events.count_events()))


async def error_of(response: Any, status: int) -> dict[str, Any]:
    assert response.status == status, await response.text()
    payload: dict[str, Any] = await response.json()
    return payload


def fields_named(error: dict[str, Any]) -> list[str]:
    return [d["field"] for d in error["details"]]


def event_types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


# -- envelopes and the basic operations -------------------------------------------------


async def test_create_returns_envelope_location_and_every_field(api: Api) -> None:
    asset = await create_asset(api)
    response = await api.post(
        "/api/v1/inspections", json=body(asset["id"], coverage_percent=60, findings="ok")
    )
    assert response.status == 201
    payload = await response.json()
    assert set(payload) == {"data", "meta"} and TIMESTAMP.match(payload["meta"]["timestamp"])
    inspection = payload["data"]
    assert set(inspection) == FIELDS
    assert response.headers["Location"] == f"/api/v1/inspections/{inspection['id']}"
    assert inspection["status"] == "completed"  # the default
    assert inspection["inspection_date"] == "2024-03-01"
    assert inspection["coverage_percent"] == 60
    assert inspection["effectiveness"] == "A"
    assert inspection["min_measured_thickness_mm"] is None
    assert TIMESTAMP.match(inspection["created_at"])
    assert inspection["created_at"] == inspection["updated_at"]


async def test_get_one_and_unknown_id(api: Api) -> None:
    asset = await create_asset(api)
    inspection = await create_inspection(api, asset["id"])
    response = await api.get(f"/api/v1/inspections/{inspection['id']}")
    assert response.status == 200
    assert (await response.json())["data"] == inspection
    missing = "/api/v1/inspections/insp_01ZZZZZZZZZZZZZZZZZZZZZZZZ"
    error = await error_of(await api.get(missing), 404)
    assert error["error"] == "not_found" and error["details"] == []
    assert (await api.put(missing, json={"findings": "x"})).status == 404


async def test_list_envelope(api: Api) -> None:
    asset = await create_asset(api)
    for day in ("2024-01-01", "2024-01-02", "2024-01-03"):
        await create_inspection(api, asset["id"], inspection_date=day)
    response = await api.get("/api/v1/inspections?per_page=2")
    payload = await response.json()
    assert payload["meta"] == {"page": 1, "per_page": 2, "total": 3, "total_pages": 2}
    assert len(payload["data"]) == 2 and set(payload["data"][0]) == FIELDS
    assert 'rel="next"' in response.headers["Link"]


async def test_partial_update_changes_only_sent_fields(api: Api) -> None:
    asset = await create_asset(api)
    inspection = await create_inspection(api, asset["id"], findings="pitting", coverage_percent=30)
    response = await api.put(
        f"/api/v1/inspections/{inspection['id']}", json={"findings": "no pitting"}
    )
    assert response.status == 200
    updated = (await response.json())["data"]
    assert updated["findings"] == "no pitting"
    assert updated["coverage_percent"] == 30 and updated["effectiveness"] == "B"
    assert updated["updated_at"] > inspection["updated_at"]
    # Optional fields clear with null; required ones cannot.
    cleared = await api.put(f"/api/v1/inspections/{inspection['id']}", json={"findings": None})
    assert (await cleared.json())["data"]["findings"] is None
    error = await error_of(
        await api.put(f"/api/v1/inspections/{inspection['id']}", json={"inspector_name": None}),
        400,
    )
    assert fields_named(error) == ["inspector_name"]


async def test_update_without_change_writes_nothing(api: Api) -> None:
    asset = await create_asset(api)
    inspection = await create_inspection(api, asset["id"], findings="ok")
    before = await written(api)
    response = await api.put(
        f"/api/v1/inspections/{inspection['id']}",
        json={"findings": "ok", "asset_id": asset["id"], "status": "completed"},
    )
    assert response.status == 200
    assert (await response.json())["data"] == inspection
    assert await written(api) == before


async def test_no_delete_is_405_with_allow(api: Api) -> None:
    asset = await create_asset(api)
    inspection = await create_inspection(api, asset["id"])
    response = await api.delete(f"/api/v1/inspections/{inspection['id']}")
    error = await error_of(response, 405)
    assert error["error"] == "method_not_allowed"
    assert "DELETE" not in response.headers["Allow"] and "PUT" in response.headers["Allow"]
    assert (await api.get(f"/api/v1/inspections/{inspection['id']}")).status == 200


# -- effectiveness (SPEC §6), a cell of each row and the band edges ------------------------

EFFECTIVENESS = [
    pytest.param("internal_visual", 50, "A", id="internal_visual-50-A"),
    pytest.param("internal_visual", 20, "B", id="internal_visual-20-B"),
    pytest.param("internal_visual", None, "C", id="internal_visual-missing-C"),
    pytest.param("ut_scanning", 49.9, "B", id="ut_scanning-49.9-B"),
    pytest.param("ut_scanning", 2, "C", id="ut_scanning-2-C"),
    pytest.param("ut_scanning", 1.99, "D", id="ut_scanning-1.99-D"),
    pytest.param("profile_radiography", 100, "A", id="profile_radiography-100-A"),
    pytest.param("ut_spot", 100, "C", id="ut_spot-100-C"),
    pytest.param("ut_spot", 0, "D", id="ut_spot-0-D"),
    pytest.param("external_visual", 100, "D", id="external_visual-D"),
    pytest.param("pressure_test", 100, "E", id="pressure_test-E"),
    pytest.param("other", None, "E", id="other-E"),
]


@pytest.mark.parametrize(("kind", "coverage", "expected"), EFFECTIVENESS)
async def test_effectiveness_is_computed(
    api: Api, kind: str, coverage: float | None, expected: str
) -> None:
    asset = await create_asset(api)
    fields: dict[str, Any] = {"inspection_type": kind}
    if coverage is not None:
        fields["coverage_percent"] = coverage
    inspection = await create_inspection(api, asset["id"], **fields)
    assert inspection["effectiveness"] == expected


async def test_effectiveness_is_recomputed_when_type_or_coverage_change(api: Api) -> None:
    asset = await create_asset(api)
    inspection = await create_inspection(api, asset["id"], coverage_percent=10)
    assert inspection["effectiveness"] == "C"
    path = f"/api/v1/inspections/{inspection['id']}"
    changed = await (await api.put(path, json={"coverage_percent": 75})).json()
    assert changed["data"]["effectiveness"] == "A"
    changed = await (await api.put(path, json={"inspection_type": "ut_spot"})).json()
    assert changed["data"]["effectiveness"] == "C"
    changed = await (await api.put(path, json={"coverage_percent": None})).json()
    assert changed["data"]["effectiveness"] == "D"
    fetched = await (await api.get(path)).json()
    assert fetched["data"]["effectiveness"] == "D"


# -- rules on create and update: the right error, the field named, nothing written ---------


def _tomorrow() -> str:
    return (datetime.datetime.now(datetime.UTC).date() + datetime.timedelta(days=1)).isoformat()


BAD_CREATE = [
    pytest.param({"asset_id": "ast_01ZZZZZZZZZZZZZZZZZZZZZZZZ"}, "asset_id", id="unknown-asset"),
    pytest.param({"inspection_type": "x_ray"}, "inspection_type", id="unknown-type"),
    pytest.param({"inspection_date": "2024-02-30"}, "inspection_date", id="impossible-date"),
    pytest.param({"inspection_date": None}, "inspection_date", id="null-date"),
    pytest.param({"inspector_name": ""}, "inspector_name", id="empty-inspector"),
    pytest.param({"coverage_percent": 100.5}, "coverage_percent", id="coverage-above-100"),
    pytest.param({"coverage_percent": -1}, "coverage_percent", id="coverage-below-0"),
    pytest.param({"status": "open"}, "status", id="unknown-status"),
    pytest.param({"effectiveness": "A"}, "effectiveness", id="computed-field-sent"),
    pytest.param(
        {"min_measured_thickness_mm": -0.1}, "min_measured_thickness_mm", id="reading-below-zero"
    ),
    pytest.param(
        {"min_measured_thickness_mm": 12.01},
        "min_measured_thickness_mm",
        id="reading-above-nominal",
    ),
    pytest.param({"inspection_date": "2009-12-31"}, "inspection_date", id="before-install"),
    pytest.param({"inspection_date": "FUTURE"}, "inspection_date", id="in-the-future"),
]


@pytest.mark.parametrize(("fields", "field"), BAD_CREATE)
async def test_bad_create_names_field_and_writes_nothing(
    api: Api, fields: dict[str, Any], field: str
) -> None:
    asset = await create_asset(api, nominal_thickness_mm=12.0, install_date="2010-01-01")
    if fields.get("inspection_date") == "FUTURE":
        fields = {"inspection_date": _tomorrow()}
    before = await written(api)
    error = await error_of(
        await api.post("/api/v1/inspections", json={**body(asset["id"]), **fields}), 400
    )
    assert error["error"] == "validation_error"
    assert fields_named(error) == [field]
    assert await written(api) == before


async def test_reading_equal_to_nominal_and_date_equal_to_install_are_accepted(api: Api) -> None:
    asset = await create_asset(api, nominal_thickness_mm=12.0, install_date="2010-01-01")
    inspection = await create_inspection(
        api, asset["id"], inspection_date="2010-01-01", min_measured_thickness_mm=12
    )
    assert inspection["min_measured_thickness_mm"] == 12
    today = datetime.datetime.now(datetime.UTC).date().isoformat()
    await create_inspection(api, asset["id"], inspection_date=today)


async def test_asset_of_another_tenant_is_400_and_writes_nothing(api: Api) -> None:
    other = await api.new_tenant("beta")
    other_key, _ = await api.new_key(tenant=other)
    response = await api.post(
        "/api/v1/assets",
        json={"tag_number": "V-9", "name": "Beta vessel", "asset_type": "vessel"},
        key=other_key,
    )
    foreign = (await response.json())["data"]
    before = await written(api)
    error = await error_of(await api.post("/api/v1/inspections", json=body(foreign["id"])), 400)
    assert fields_named(error) == ["asset_id"]
    assert await written(api) == before
    # Nor did it land in the other tenant.
    listing = await (await api.get("/api/v1/inspections", key=other_key)).json()
    assert listing["meta"]["total"] == 0


BAD_UPDATE = [
    pytest.param(
        {"min_measured_thickness_mm": 12.5}, "min_measured_thickness_mm", id="above-nominal"
    ),
    pytest.param({"min_measured_thickness_mm": -1}, "min_measured_thickness_mm", id="below-zero"),
    pytest.param({"inspection_date": "2009-06-30"}, "inspection_date", id="before-install"),
    pytest.param({"inspection_date": "FUTURE"}, "inspection_date", id="in-the-future"),
    pytest.param({"status": None}, "status", id="null-status"),
    pytest.param({"id": "insp_x"}, "id", id="id-sent"),
]


@pytest.mark.parametrize(("fields", "field"), BAD_UPDATE)
async def test_bad_update_names_field_and_writes_nothing(
    api: Api, fields: dict[str, Any], field: str
) -> None:
    asset = await create_asset(api, nominal_thickness_mm=12.0, install_date="2010-01-01")
    inspection = await create_inspection(api, asset["id"], min_measured_thickness_mm=11)
    if fields.get("inspection_date") == "FUTURE":
        fields = {"inspection_date": _tomorrow()}
    before = await written(api)
    path = f"/api/v1/inspections/{inspection['id']}"
    error = await error_of(await api.put(path, json=fields), 400)
    assert fields_named(error) == [field]
    assert await written(api) == before
    assert (await (await api.get(path)).json())["data"] == inspection


async def test_asset_id_cannot_change(api: Api) -> None:
    asset = await create_asset(api)
    other = await create_asset(api, tag_number="V-102")
    inspection = await create_inspection(api, asset["id"])
    before = await written(api)
    path = f"/api/v1/inspections/{inspection['id']}"
    error = await error_of(await api.put(path, json={"asset_id": other["id"]}), 400)
    assert fields_named(error) == ["asset_id"]
    assert "cannot be changed" in error["details"][0]["message"]
    assert await written(api) == before


async def test_completed_cannot_return_to_draft(api: Api) -> None:
    asset = await create_asset(api)
    inspection = await create_inspection(api, asset["id"])
    before = await written(api)
    path = f"/api/v1/inspections/{inspection['id']}"
    error = await error_of(await api.put(path, json={"status": "draft", "findings": "x"}), 409)
    assert error["error"] == "conflict"
    assert error["details"] == [
        {"field": "status", "message": "a completed inspection cannot return to draft"}
    ]
    assert await written(api) == before
    assert (await (await api.get(path)).json())["data"] == inspection


# -- inspection.completed (SPEC §7) ----------------------------------------------------------


async def test_completed_emitted_on_create_completed(api: Api) -> None:
    asset = await create_asset(api)
    inspection = await create_inspection(api, asset["id"], coverage_percent=55)
    events = [e for e in await events_of(api) if e["type"] == "inspection.completed"]
    assert len(events) == 1
    assert events[0]["resource_type"] == "inspection"
    assert events[0]["resource_id"] == inspection["id"]
    data = json.loads(events[0]["data"])
    assert data == {"before": None, "after": inspection}


async def test_completed_emitted_once_when_a_draft_is_completed(api: Api) -> None:
    asset = await create_asset(api)
    draft = await create_inspection(api, asset["id"], status="draft")
    path = f"/api/v1/inspections/{draft['id']}"
    await api.put(path, json={"findings": "still drafting"})
    assert "inspection.completed" not in event_types(await events_of(api))
    completed = (await (await api.put(path, json={"status": "completed"})).json())["data"]
    assert completed["status"] == "completed"
    # Later edits of the completed record, and sending `completed` again, emit no second one.
    await api.put(path, json={"findings": "corrected wording", "status": "completed"})
    await api.put(path, json={"status": "completed"})
    events = [e for e in await events_of(api) if e["type"] == "inspection.completed"]
    assert len(events) == 1
    data = json.loads(events[0]["data"])
    assert data["before"]["status"] == "draft" and data["after"] == completed


# -- filters, sort and paging ----------------------------------------------------------------


async def seed(api: Api) -> dict[str, str]:
    """Two assets, six inspections; returns the ids by a short name."""
    a = (await create_asset(api))["id"]
    b = (await create_asset(api, tag_number="P-2204"))["id"]
    rows = {
        "a1": (a, "ut_scanning", "2023-12-31", 60, 11.5, "completed"),
        "a2": (a, "ut_scanning", "2024-01-01", 10, 11.0, "completed"),
        "a3": (a, "external_visual", "2024-06-30", None, None, "completed"),
        "a4": (a, "ut_spot", "2024-07-01", 5, 10.8, "draft"),
        "b1": (b, "ut_spot", "2024-03-15", 2, 9.0, "completed"),
        "b2": (b, "pressure_test", "2024-12-31", None, None, "draft"),
    }
    ids = {"a": a, "b": b}
    for name, (asset_id, kind, day, coverage, reading, status) in rows.items():
        fields: dict[str, Any] = {"inspection_type": kind, "inspection_date": day}
        fields["status"] = status
        if coverage is not None:
            fields["coverage_percent"] = coverage
        if reading is not None:
            fields["min_measured_thickness_mm"] = reading
        ids[name] = (await create_inspection(api, asset_id, **fields))["id"]
    return ids


async def names(api: Api, ids: dict[str, str], query: str) -> list[str]:
    response = await api.get(f"/api/v1/inspections?{query}")
    assert response.status == 200, await response.text()
    by_id = {v: k for k, v in ids.items()}
    return [by_id[i["id"]] for i in (await response.json())["data"]]


async def test_filters(api: Api) -> None:
    ids = await seed(api)
    assert await names(api, ids, f"asset_id={ids['b']}") == ["b1", "b2"]
    assert await names(api, ids, "asset_id=ast_01ZZZZZZZZZZZZZZZZZZZZZZZZ") == []
    assert await names(api, ids, "inspection_type=ut_spot") == ["a4", "b1"]
    assert await names(api, ids, "status=draft") == ["a4", "b2"]
    assert await names(api, ids, f"status=completed&asset_id={ids['a']}") == ["a1", "a2", "a3"]
    # Date bounds are inclusive at both ends.
    assert await names(api, ids, "date_from=2024-01-01") == ["a2", "a3", "a4", "b1", "b2"]
    assert await names(api, ids, "date_to=2024-01-01") == ["a1", "a2"]
    assert await names(api, ids, "date_from=2024-01-01&date_to=2024-06-30") == ["a2", "a3", "b1"]
    assert await names(api, ids, "date_from=2024-03-15&date_to=2024-03-15") == ["b1"]
    assert await names(api, ids, "date_from=2025-01-01") == []


async def test_updated_since(api: Api) -> None:
    ids = await seed(api)
    listing = await (await api.get(f"/api/v1/inspections/{ids['b2']}")).json()
    since = listing["data"]["created_at"]
    assert await names(api, ids, f"updated_since={since}") == ["b2"]
    await api.put(f"/api/v1/inspections/{ids['a1']}", json={"findings": "x"})
    assert await names(api, ids, f"updated_since={since}") == ["a1", "b2"]


async def test_sort(api: Api) -> None:
    ids = await seed(api)
    by_date = ["a1", "a2", "b1", "a3", "a4", "b2"]
    assert await names(api, ids, "sort=inspection_date") == by_date
    assert await names(api, ids, "sort=-inspection_date") == by_date[::-1]
    # SQLite orders nulls first ascending; ties (the two nulls) by id.
    assert await names(api, ids, "sort=coverage_percent") == ["a3", "b2", "b1", "a4", "a2", "a1"]
    assert (await names(api, ids, "sort=-min_measured_thickness_mm"))[:4] == [
        "a1",
        "a2",
        "a4",
        "b1",
    ]
    assert await names(api, ids, "sort=created_at") == ["a1", "a2", "a3", "a4", "b1", "b2"]
    assert (await names(api, ids, ""))[0] == "a1"  # default: id order, creation order here


BAD_QUERIES = [
    pytest.param("inspection_type=x_ray", ["inspection_type"], id="unknown-type"),
    pytest.param("status=open", ["status"], id="unknown-status"),
    pytest.param("date_from=2024-13-01", ["date_from"], id="bad-month"),
    pytest.param("date_to=yesterday", ["date_to"], id="not-a-date"),
    pytest.param("date_from=2024-02-01&date_to=2024-01-31", ["date_from"], id="from-after-to"),
    pytest.param("sort=inspector_name", ["sort"], id="unsortable-field"),
    pytest.param("sort=effectiveness", ["sort"], id="computed-not-sortable"),
    pytest.param("updated_since=soon", ["updated_since"], id="bad-updated-since"),
    pytest.param("asset_id=", ["asset_id"], id="empty-asset-id"),
    pytest.param("per_page=101", ["per_page"], id="per-page-too-big"),
    pytest.param("type=vessel", ["type"], id="unknown-parameter"),
]


@pytest.mark.parametrize(("query", "fields"), BAD_QUERIES)
async def test_bad_list_query_is_400_naming_parameter(
    api: Api, query: str, fields: list[str]
) -> None:
    error = await error_of(await api.get(f"/api/v1/inspections?{query}"), 400)
    assert error["error"] == "validation_error"
    assert fields_named(error) == fields


# -- permissions -----------------------------------------------------------------------------


async def test_read_only_key_reads_but_cannot_write(api: Api) -> None:
    asset = await create_asset(api)
    inspection = await create_inspection(api, asset["id"])
    read_key, _ = await api.new_key("read_only")
    assert (await api.get(f"/api/v1/inspections/{inspection['id']}", key=read_key)).status == 200
    error = await error_of(
        await api.post("/api/v1/inspections", json=body(asset["id"]), key=read_key), 403
    )
    assert error["message"] == "API key lacks required permission: inspections:write"
    assets_only, _ = await api.new_key("read_write", scopes=["assets:write"])
    assert (await api.get("/api/v1/inspections", key=assets_only)).status == 403


# -- the asset's computed fields (SPEC §6 corrosion and remaining life) -----------------------

DAYS_PER_YEAR = 365.25  # SPEC §6 and domain/corrosion.py


def years(start: str, end: str) -> float:
    days = (datetime.date.fromisoformat(end) - datetime.date.fromisoformat(start)).days
    return days / DAYS_PER_YEAR


def plus_years(start: str, span: float) -> str:
    # The domain floors the interval to whole days, so the due date never comes late.
    due = datetime.date.fromisoformat(start) + datetime.timedelta(
        days=math.floor(span * DAYS_PER_YEAR)
    )
    return due.isoformat()


async def asset_everywhere(api: Api, asset_id: str) -> dict[str, Any]:
    """GET /assets/{id}, checked to agree with the same asset in the assets list."""
    one = (await (await api.get(f"/api/v1/assets/{asset_id}")).json())["data"]
    listing = (await (await api.get("/api/v1/assets?per_page=100")).json())["data"]
    assert [a for a in listing if a["id"] == asset_id] == [one]
    return one


async def test_asset_metrics_follow_completed_inspections(api: Api) -> None:
    asset = await create_asset(
        api,
        nominal_thickness_mm=12.0,
        required_thickness_mm=6.0,
        install_date="2010-01-01",
    )
    asset_id = asset["id"]

    # One reading: only the long-term rate from install (t_initial = nominal) exists.
    await create_inspection(
        api, asset_id, inspection_date="2018-01-01", min_measured_thickness_mm=11.0
    )
    lt = (12.0 - 11.0) / years("2010-01-01", "2018-01-01")  # 8.0 years -> 0.125 mm/y
    life = (11.0 - 6.0) / lt  # 40 years, so the 10-year cap applies
    got = await asset_everywhere(api, asset_id)
    assert got["last_inspection_date"] == "2018-01-01"
    assert got["corrosion_rate_mm_per_year"] == round(lt, 4) == 0.125
    assert got["remaining_life_years"] == round(life, 2) == 40.0
    assert got["next_inspection_due"] == plus_years("2018-01-01", 10) == "2028-01-01"

    # Two readings: governing rate = max(LT, ST) (SPEC §6).
    await create_inspection(
        api, asset_id, inspection_date="2022-01-01", min_measured_thickness_mm=10.0
    )
    lt = (12.0 - 10.0) / years("2010-01-01", "2022-01-01")  # 2 mm / 12.0 years
    st = (11.0 - 10.0) / years("2018-01-01", "2022-01-01")  # 1 mm / 4.0 years
    rate = max(lt, st)
    life = (10.0 - 6.0) / rate
    got = await asset_everywhere(api, asset_id)
    assert got["last_inspection_date"] == "2022-01-01"
    assert got["corrosion_rate_mm_per_year"] == round(rate, 4) == 0.25
    assert got["remaining_life_years"] == round(life, 2) == 16.0
    assert got["next_inspection_due"] == plus_years("2022-01-01", min(life / 2, 10))
    assert got["next_inspection_due"] == "2030-01-01"

    # A draft does not count, and so changes nothing: no asset.updated either.
    events_before = len(await events_of(api))
    draft = await create_inspection(
        api, asset_id, inspection_date="2023-01-01", min_measured_thickness_mm=9.0, status="draft"
    )
    assert await asset_everywhere(api, asset_id) == got
    assert len(await events_of(api)) == events_before

    # Completing it brings its reading in: a year's loss of 1 mm now governs.
    await api.put(f"/api/v1/inspections/{draft['id']}", json={"status": "completed"})
    lt = (12.0 - 9.0) / years("2010-01-01", "2023-01-01")
    st = (10.0 - 9.0) / years("2022-01-01", "2023-01-01")
    rate = max(lt, st)
    life = (9.0 - 6.0) / rate
    got = await asset_everywhere(api, asset_id)
    assert got["last_inspection_date"] == "2023-01-01"
    assert got["corrosion_rate_mm_per_year"] == round(rate, 4) == 1.0007
    assert got["remaining_life_years"] == round(life, 2) == 3.0
    assert got["next_inspection_due"] == plus_years("2023-01-01", life / 2)


async def test_reading_at_or_below_required_means_no_remaining_life(api: Api) -> None:
    asset = await create_asset(
        api, nominal_thickness_mm=12.0, required_thickness_mm=6.0, install_date="2010-01-01"
    )
    await create_inspection(
        api, asset["id"], inspection_date="2020-01-01", min_measured_thickness_mm=6.0
    )
    got = await asset_everywhere(api, asset["id"])
    assert got["remaining_life_years"] == 0
    # Half of no remaining life is no interval: the asset is due at its last inspection.
    assert got["next_inspection_due"] == "2020-01-01"
    assert got["corrosion_rate_mm_per_year"] == round(6.0 / years("2010-01-01", "2020-01-01"), 4)


async def test_asset_updated_emitted_when_metrics_change_and_only_then(api: Api) -> None:
    asset = await create_asset(
        api, nominal_thickness_mm=12.0, required_thickness_mm=6.0, install_date="2010-01-01"
    )
    inspection = await create_inspection(
        api, asset["id"], inspection_date="2018-01-01", min_measured_thickness_mm=11.0
    )
    assert event_types(await events_of(api)) == [
        "asset.created",
        "inspection.completed",
        "asset.updated",
    ]
    update = json.loads((await events_of(api))[-1]["data"])
    assert update["before"]["corrosion_rate_mm_per_year"] is None
    assert update["after"]["corrosion_rate_mm_per_year"] == 0.125
    path = f"/api/v1/inspections/{inspection['id']}"
    # Correcting the findings leaves the metrics alone: no event at all.
    await api.put(path, json={"findings": "re-read the report"})
    assert len(await events_of(api)) == 3
    # Correcting the reading moves them: asset.updated, and no inspection event.
    await api.put(path, json={"min_measured_thickness_mm": 10.0})
    assert event_types(await events_of(api))[3:] == ["asset.updated"]
    got = await asset_everywhere(api, asset["id"])
    assert got["corrosion_rate_mm_per_year"] == round(2.0 / 8.0, 4)
    assert got["updated_at"] > asset["updated_at"]
