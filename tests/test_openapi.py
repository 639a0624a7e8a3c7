"""The OpenAPI document and the offline docs page (SPEC §3)."""

from __future__ import annotations

import re

from aiohttp.test_utils import TestClient

from reliatic_appliance.app import OPERATIONS
from tests.conftest import Api


async def test_document_lists_every_operation(client: TestClient) -> None:
    response = await client.get("/api/v1/openapi.json")
    assert response.status == 200
    doc = await response.json()
    assert doc["openapi"].startswith("3.1")
    listed = {(path, method.upper()) for path, item in doc["paths"].items() for method in item}
    expected = {(op.path, op.method) for op in OPERATIONS if op.in_schema}
    assert listed == expected
    create = doc["paths"]["/api/v1/assets"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "AssetCreate"
    )
    assert {"201", "400", "401", "403", "409", "413", "415", "429"} <= set(create["responses"])
    params = {p["name"]: p for p in doc["paths"]["/api/v1/assets"]["get"]["parameters"]}
    assert params["per_page"]["schema"]["maximum"] == 100
    assert "vessel" in str(params["type"]["schema"])
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


async def test_asset_schema_matches_response(api: Api) -> None:
    doc = await (await api.client.get("/api/v1/openapi.json")).json()
    asset_schema = doc["components"]["schemas"]["Asset"]
    created = await api.post(
        "/api/v1/assets", json={"tag_number": "V-1", "name": "n", "asset_type": "tank"}
    )
    body = (await created.json())["data"]
    assert set(asset_schema["properties"]) == set(body)
    assert set(asset_schema["required"]) == set(body)


async def test_docs_page_is_self_contained(client: TestClient) -> None:
    response = await client.get("/api/docs")
    assert response.status == 200
    html = await response.text()
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources, html
    for source in sources:
        assert not source.startswith(("http:", "https:", "//")), source
        if source.startswith("/"):
            asset = await client.get(source)
            assert asset.status == 200, source
            assert len(await asset.read()) > 100
    bundle = await (await client.get("/api/static/swagger-ui/swagger-ui-bundle.js")).text()
    assert "SwaggerUIBundle" in bundle


async def test_health_and_readiness(client: TestClient) -> None:
    assert await (await client.get("/healthz")).json() == {"status": "ok"}
    assert await (await client.get("/readyz")).json() == {"status": "ready"}
