"""The served OpenAPI document is valid OAS 3.1, as the tools integrators use check it
(issue 11): openapi-spec-validator first, since client generators and API gateways refuse
what it refuses. `tests/test_openapi.py` checks the document is complete."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from openapi_spec_validator import OpenAPIV31SpecValidator


async def _served(client: TestClient) -> dict[str, Any]:
    response = await client.get("/api/v1/openapi.json")
    assert response.status == 200
    doc: dict[str, Any] = await response.json()
    return doc


async def test_served_document_passes_openapi_spec_validator(client: TestClient) -> None:
    doc = await _served(client)
    assert doc["openapi"].startswith("3.1")
    errors = [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in OpenAPIV31SpecValidator(doc).iter_errors()
    ]
    assert errors == []


async def test_partial_update_fields_are_optional_but_not_nullable(client: TestClient) -> None:
    """A field a partial update may leave out has no `"default": null` unless null is
    accepted: leaving it out is not the same as sending null (which is refused)."""
    schemas = (await _served(client))["components"]["schemas"]
    status = schemas["AssetUpdate"]["properties"]["status"]
    assert "default" not in status
    assert "null" not in str(status)
    assert "status" not in schemas["AssetUpdate"].get("required", [])
    # A field that does accept null keeps its default of null.
    description = schemas["AssetUpdate"]["properties"]["description"]
    assert description["default"] is None
    assert {"type": "null"} in description["anyOf"]
    for name in ("url", "events", "enabled"):
        assert "default" not in schemas["WebhookUpdate"]["properties"][name], name
