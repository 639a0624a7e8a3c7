"""SPEC §3 versioning: one flag on an operation in the route table marks it deprecated; it
then answers with `Deprecation` (RFC 9745) and `Sunset` (RFC 8594) and is `deprecated: true`
in OpenAPI, while it goes on working."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from reliatic_appliance.api import openapi, routes
from reliatic_appliance.api.handlers import assets
from reliatic_appliance.app import create_app
from tests.conftest import make_settings, open_api

SINCE = datetime(2026, 12, 1, tzinfo=UTC)
SUNSET = datetime(2028, 1, 1, tzinfo=UTC)


def _old_get_asset() -> routes.Operation:
    """The asset GET again, under an old path, marked deprecated: what a rename leaves."""
    current = next(op for op in assets.OPERATIONS if op.operation_id == "getAsset")
    return routes.Operation(
        "GET",
        "/api/v1/equipment/{asset_id}",
        current.handler,
        operation_id="getEquipmentDeprecated",
        summary="Get one asset (old path)",
        tag="Assets",
        permission="assets:read",
        response=current.response,
        path_params=current.path_params,
        deprecated=routes.Deprecation(since=SINCE, sunset=SUNSET),
    )


async def test_a_deprecated_operation_answers_with_deprecation_and_sunset(
    aiohttp_client: Callable[..., Awaitable[TestClient]], data_dir: Path
) -> None:
    app = create_app(make_settings(data_dir), run_scheduler=False)
    routes.install(app, [_old_get_asset()])
    api = await open_api(await aiohttp_client(app), ["assets:write"])
    made = await api.post(
        "/api/v1/assets", json={"tag_number": "V-1", "name": "n", "asset_type": "tank"}
    )
    asset_id = (await made.json())["data"]["id"]
    old = await api.get(f"/api/v1/equipment/{asset_id}")
    assert old.status == 200  # still works until its sunset
    assert old.headers["Deprecation"] == f"@{int(SINCE.timestamp())}"
    assert old.headers["Sunset"] == "Sat, 01 Jan 2028 00:00:00 GMT"
    missing = await api.get("/api/v1/equipment/ast_nope")
    assert missing.status == 404 and "Sunset" in missing.headers  # errors say it too
    current = await api.get(f"/api/v1/assets/{asset_id}")
    assert "Deprecation" not in current.headers and "Sunset" not in current.headers


def test_a_deprecated_operation_is_marked_in_openapi() -> None:
    document = json.loads(openapi.render([*assets.OPERATIONS, _old_get_asset()]))
    assert document["paths"]["/api/v1/equipment/{asset_id}"]["get"]["deprecated"] is True
    assert "deprecated" not in document["paths"]["/api/v1/assets/{asset_id}"]["get"]


def test_a_sunset_comes_at_least_twelve_months_after_the_deprecation() -> None:
    with pytest.raises(ValueError, match="12 months"):
        routes.Deprecation(since=SINCE, sunset=datetime(2027, 6, 1, tzinfo=UTC))


def test_no_operation_of_the_product_is_deprecated_yet() -> None:
    """When one is, CHANGELOG.md must say so: this test is the reminder."""
    from reliatic_appliance.app import OPERATIONS

    deprecated = [op.operation_id for op in OPERATIONS if op.deprecated is not None]
    changelog = (Path(__file__).parents[1] / "CHANGELOG.md").read_text(encoding="utf-8")
    assert all(op_id in changelog for op_id in deprecated)
