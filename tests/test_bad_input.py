"""SPEC §9 bad input, one row each, against the real server: the right error, the field
named, nothing written, and the server still serving afterwards."""

from __future__ import annotations

from typing import Any

import pytest

from reliatic_appliance.keys import TENANT_DBS
from tests.conftest import ASSET, Api, create_asset

JSON = {"Content-Type": "application/json"}

# (method, path, request kwargs, status, error code, fields named in details)
ROWS = [
    pytest.param(
        "POST",
        "/api/v1/assets",
        {"data": b'{"tag_number": "V-1",', "headers": JSON},
        400,
        "validation_error",
        ["body"],
        id="malformed-json",
    ),
    pytest.param(
        "POST",
        "/api/v1/assets",
        {"data": b"[1, 2]", "headers": JSON},
        400,
        "validation_error",
        ["body"],
        id="json-array-body",
    ),
    pytest.param(
        "POST",
        "/api/v1/assets",
        {"data": b'"V-101"', "headers": JSON},
        400,
        "validation_error",
        ["body"],
        id="json-scalar-body",
    ),
    pytest.param(
        "POST",
        "/api/v1/assets",
        {"data": b"", "headers": JSON},
        400,
        "validation_error",
        ["body"],
        id="empty-body",
    ),
    pytest.param(
        "POST",
        "/api/v1/assets",
        {"json": {}},
        400,
        "validation_error",
        ["tag_number", "name", "asset_type"],
        id="missing-required-fields",
    ),
    pytest.param(
        "POST",
        "/api/v1/assets",
        {"json": {**ASSET, "name": 42}},
        400,
        "validation_error",
        ["name"],
        id="wrong-type-string",
    ),
    pytest.param(
        "POST",
        "/api/v1/assets",
        {"json": {**ASSET, "design_pressure_kpa": "high"}},
        400,
        "validation_error",
        ["design_pressure_kpa"],
        id="wrong-type-number",
    ),
    pytest.param(
        "POST",
        "/api/v1/assets",
        {"json": {**ASSET, "nominal_thickness_mm": True}},
        400,
        "validation_error",
        ["nominal_thickness_mm"],
        id="bool-for-number",
    ),
    pytest.param(
        "POST",
        "/api/v1/assets",
        {"json": {**ASSET, "asset_type": "boiler"}},
        400,
        "validation_error",
        ["asset_type"],
        id="bad-enum",
    ),
    pytest.param(
        "POST",
        "/api/v1/assets",
        {"json": {**ASSET, "nominal_thickness_mm": -3}},
        400,
        "validation_error",
        ["nominal_thickness_mm"],
        id="out-of-range-negative",
    ),
    pytest.param(
        "POST",
        "/api/v1/assets",
        {"json": {**ASSET, "design_temperature_c": 1e9}},
        400,
        "validation_error",
        ["design_temperature_c"],
        id="out-of-range-huge",
    ),
    pytest.param(
        "POST",
        "/api/v1/assets",
        {
            "data": b'{"tag_number":"V-1","name":"n","asset_type":"tank",'
            b'"design_pressure_kpa":NaN}',
            "headers": JSON,
        },
        400,
        "validation_error",
        ["design_pressure_kpa"],
        id="nan",
    ),
    pytest.param(
        "POST",
        "/api/v1/assets",
        {
            "data": b'{"tag_number":"V-1","name":"n","asset_type":"tank",'
            b'"design_pressure_kpa":Infinity}',
            "headers": JSON,
        },
        400,
        "validation_error",
        ["design_pressure_kpa"],
        id="infinity",
    ),
    pytest.param(
        "POST",
        "/api/v1/assets",
        {"json": {**ASSET, "colour": "red"}},
        400,
        "validation_error",
        ["colour"],
        id="unknown-field",
    ),
    pytest.param(
        "POST",
        "/api/v1/assets",
        {"json": {**ASSET, "install_date": "31/12/1999"}},
        400,
        "validation_error",
        ["install_date"],
        id="bad-date",
    ),
    pytest.param(
        "POST",
        "/api/v1/assets",
        {"json": {**ASSET, "tag_number": "V-1\x00"}},
        400,
        "validation_error",
        ["tag_number"],
        id="nul-in-text",
    ),
    pytest.param(
        "POST",
        "/api/v1/assets",
        {"json": {**ASSET, "name": "bell\x07"}},
        400,
        "validation_error",
        ["name"],
        id="control-char-in-text",
    ),
    pytest.param(
        "POST",
        "/api/v1/assets",
        {"json": {**ASSET, "tag_number": "   "}},
        400,
        "validation_error",
        ["tag_number"],
        id="blank-tag",
    ),
    pytest.param(
        "POST",
        "/api/v1/assets",
        {"json": {**ASSET, "name": "x" * 201}},
        400,
        "validation_error",
        ["name"],
        id="too-long",
    ),
    pytest.param(
        "POST",
        "/api/v1/assets",
        {"data": b'{"tag_number":"V-\xff","name":"n","asset_type":"tank"}', "headers": JSON},
        400,
        "validation_error",
        ["body"],
        id="invalid-utf8-body",
    ),
    pytest.param(
        "POST",
        "/api/v1/assets",
        {"data": b"tag_number=V-1", "headers": {"Content-Type": "text/plain"}},
        415,
        "unsupported_media_type",
        [],
        id="text-plain",
    ),
    pytest.param(
        "POST",
        "/api/v1/assets",
        {
            "data": b"tag_number=V-1",
            "headers": {"Content-Type": "application/x-www-form-urlencoded"},
        },
        415,
        "unsupported_media_type",
        [],
        id="form-encoded",
    ),
    pytest.param(
        "POST",
        "/api/v1/assets",
        {"data": b'{"a":1}', "headers": {"Content-Type": "application/json; charset=latin-1"}},
        415,
        "unsupported_media_type",
        [],
        id="non-utf8-charset",
    ),
    pytest.param(
        "POST",
        "/api/v1/assets",
        {"data": b'{"description": "' + b"x" * (2 * 1024 * 1024) + b'"}', "headers": JSON},
        413,
        "payload_too_large",
        [],
        id="body-over-max",
    ),
    pytest.param(
        "GET", "/api/v1/assets?page=0", {}, 400, "validation_error", ["page"], id="page-zero"
    ),
    pytest.param(
        "GET", "/api/v1/assets?page=-1", {}, 400, "validation_error", ["page"], id="page-negative"
    ),
    pytest.param(
        "GET",
        "/api/v1/assets?page=99999999999999999999",
        {},
        400,
        "validation_error",
        ["page"],
        id="page-huge",
    ),
    pytest.param(
        "GET",
        "/api/v1/assets?page=abc",
        {},
        400,
        "validation_error",
        ["page"],
        id="page-not-number",
    ),
    pytest.param(
        "GET",
        "/api/v1/assets?per_page=101",
        {},
        400,
        "validation_error",
        ["per_page"],
        id="per-page-over-100",
    ),
    pytest.param(
        "GET",
        "/api/v1/assets?per_page=0",
        {},
        400,
        "validation_error",
        ["per_page"],
        id="per-page-zero",
    ),
    pytest.param(
        "GET",
        "/api/v1/assets?status=deleted",
        {},
        400,
        "validation_error",
        ["status"],
        id="bad-status-filter",
    ),
    pytest.param(
        "GET",
        "/api/v1/assets?type=boiler",
        {},
        400,
        "validation_error",
        ["type"],
        id="bad-type-filter",
    ),
    pytest.param(
        "GET", "/api/v1/assets?sort=password", {}, 400, "validation_error", ["sort"], id="bad-sort"
    ),
    pytest.param(
        "GET",
        "/api/v1/assets?sort=name;DROP%20TABLE%20assets",
        {},
        400,
        "validation_error",
        ["sort"],
        id="sql-in-sort",
    ),
    pytest.param(
        "GET",
        "/api/v1/assets?updated_since=yesterday",
        {},
        400,
        "validation_error",
        ["updated_since"],
        id="bad-updated-since",
    ),
    pytest.param(
        "GET",
        "/api/v1/assets?search=%00",
        {},
        400,
        "validation_error",
        ["search"],
        id="control-char-in-search",
    ),
    pytest.param(
        "GET",
        "/api/v1/assets?colour=red",
        {},
        400,
        "validation_error",
        ["colour"],
        id="unknown-filter",
    ),
    pytest.param(
        "GET",
        "/api/v1/assets?page=1&page=2",
        {},
        400,
        "validation_error",
        ["page"],
        id="repeated-parameter",
    ),
    pytest.param(
        "GET",
        "/api/v1/assets?search=%ff%fe",
        {},
        400,
        "validation_error",
        ["query"],
        id="invalid-utf8-query",
    ),
    pytest.param(
        "GET",
        "/api/v1/assets/%ff%fe",
        {},
        400,
        "validation_error",
        ["path"],
        id="invalid-utf8-path",
    ),
    pytest.param(
        "GET",
        "/api/v1/assets/ast_01ZZZZZZZZZZZZZZZZZZZZZZZZ",
        {},
        404,
        "not_found",
        [],
        id="unknown-id",
    ),
    pytest.param("GET", "/api/v1/assets/' OR '1'='1", {}, 404, "not_found", [], id="sql-like-id"),
    pytest.param("GET", "/api/v1/nothing-here", {}, 404, "not_found", [], id="unknown-path"),
    pytest.param(
        "PATCH", "/api/v1/assets", {"json": ASSET}, 405, "method_not_allowed", [], id="wrong-method"
    ),
    pytest.param(
        "PUT",
        "/api/v1/assets/ast_01ZZZZZZZZZZZZZZZZZZZZZZZZ",
        {"json": {"name": "x"}},
        404,
        "not_found",
        [],
        id="update-unknown-id",
    ),
    pytest.param(
        "POST",
        "/api/v1/api-keys",
        {"json": {"name": "x", "level": "admin"}},
        400,
        "validation_error",
        ["level"],
        id="bad-key-level",
    ),
    pytest.param(
        "POST",
        "/api/v1/api-keys",
        {"json": {"name": "x", "level": "read_only", "permissions": ["root"]}},
        400,
        "validation_error",
        ["permissions.0"],
        id="bad-key-permission",
    ),
]


async def snapshot(api: Api) -> tuple[int, int]:
    db = await api.client.app[TENANT_DBS].get(api.tenant["id"])
    return await db.read(lambda tx: (tx.assets.count_all(), tx.events.count_events()))


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "code", "fields"), ROWS)
async def test_bad_input(
    api: Api,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    status: int,
    code: str,
    fields: list[str],
) -> None:
    await create_asset(api, tag_number="EXISTING-1")
    before = await snapshot(api)
    response = await api.request(method, path, **kwargs)
    text = await response.text()
    assert response.status == status, text
    body = await response.json()
    assert set(body) == {"error", "message", "details"}
    assert body["error"] == code
    assert body["message"] and "Traceback" not in text and "sqlite" not in text.lower()
    assert [d["field"] for d in body["details"]] == fields
    if status == 405:
        assert "GET" in response.headers["Allow"] and "POST" in response.headers["Allow"]
    assert await snapshot(api) == before
    # Still serving.
    assert (await api.get("/api/v1/assets")).status == 200


async def test_missing_fields_get_one_detail_each(api: Api) -> None:
    response = await api.post("/api/v1/assets", json={"name": "only a name"})
    details = (await response.json())["details"]
    assert details == [
        {"field": "tag_number", "message": "is required"},
        {"field": "asset_type", "message": "is required"},
    ]


async def test_error_never_echoes_input(api: Api) -> None:
    secret = "rl_live_" + "S" * 43
    response = await api.post("/api/v1/assets", json={**ASSET, "criticality": secret})
    assert secret not in await response.text()
