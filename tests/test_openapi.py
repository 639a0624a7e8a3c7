"""The OpenAPI document and the offline docs page (SPEC §3): complete (every operation,
status, header, parameter bound and example) and valid (every example passes its schema
and the server's own model). Whether it is *true* is `tests/test_fuzz.py`'s job."""

from __future__ import annotations

import functools
import json
import re
from enum import Enum
from typing import Annotated, Any, Literal, get_args, get_origin

import jsonschema_rs  # schemathesis' own validator: no dependency of our own
import pytest
from aiohttp.test_utils import TestClient
from pydantic import TypeAdapter

from reliatic_appliance.api import etags, idempotency
from reliatic_appliance.api.openapi import build_document
from reliatic_appliance.api.routes import Operation
from reliatic_appliance.app import OPERATIONS
from reliatic_appliance.errors import CODE_BY_STATUS
from reliatic_appliance.schemas.common import ErrorBody, OneOf
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
    assert "vessel" in _resolve(doc, params["type"]["schema"])["enum"]
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


# -- completeness (issue 6): every operation, status, header and example ------------------


@functools.cache
def _document() -> dict[str, Any]:
    return build_document(OPERATIONS)


def _resolve(doc: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in item:
        _, section, kind, name = item["$ref"].split("/")
        item = doc[section][kind][name]
    return item


def _validator(doc: dict[str, Any], schema: dict[str, Any]) -> Any:
    # The schema with the document's components beside it, so `#/components/...` resolves.
    root = {"components": doc["components"], **schema}
    return jsonschema_rs.Draft202012Validator(root, validate_formats=True)


OPS = [pytest.param(op, id=op.operation_id) for op in OPERATIONS if op.in_schema]


@pytest.mark.parametrize("op", OPS)
def test_every_status_the_operation_can_answer_is_documented(op: Operation) -> None:
    doc = _document()
    entry = doc["paths"][op.path][op.method.lower()]
    statuses = set(entry["responses"])
    expected = {str(op.status), "400", "429", "500", "503"}
    if op.permission is not None:
        expected |= {"401", "403"}
        assert entry["security"] == [{"bearerAuth": []}]
    if op.body is not None:
        expected |= {"413", "415"}
    if op.path_params:
        expected.add("404")
    if idempotency.applies_to(op):
        expected.add("409")
    if etags.honours_if_match(op):
        expected.add("412")
    if etags.supports_not_modified(op):
        expected.add("304")
    assert expected <= statuses
    for status in statuses - {str(op.status), "304"}:
        response = _resolve(doc, entry["responses"][status])
        media = response["content"]["application/json"]
        assert media["schema"] == {"$ref": "#/components/schemas/ErrorBody"}, status
        assert media["example"]["error"] == CODE_BY_STATUS[int(status)].code
        ErrorBody.model_validate(media["example"])
        assert {"X-Request-Id", "X-RateLimit-Limit"} <= set(response["headers"])
    if "304" in statuses:
        assert "content" not in entry["responses"]["304"]
        assert "ETag" in entry["responses"]["304"]["headers"]


@pytest.mark.parametrize("op", OPS)
def test_every_header_the_server_reads_is_a_parameter(op: Operation) -> None:
    entry = _document()["paths"][op.path][op.method.lower()]
    headers = {p["name"] for p in entry["parameters"] if p["in"] == "header"}
    expected = set()
    if idempotency.applies_to(op):
        expected.add("Idempotency-Key")
    if etags.honours_if_match(op):
        expected.add("If-Match")
    if etags.supports_not_modified(op):
        expected.add("If-None-Match")
    assert headers == expected
    for param in entry["parameters"]:
        if param["in"] == "header":
            assert re.search(param["schema"]["pattern"], param["example"]), param
    success = entry["responses"][str(op.status)]
    assert ("ETag" in success["headers"]) == etags.bears_etag(op)
    assert ("Location" in success["headers"]) == (op.status == 201)
    assert ("Link" in success["headers"]) == op.collection


@pytest.mark.parametrize("op", OPS)
def test_every_operation_has_valid_examples(op: Operation) -> None:
    doc = _document()
    entry = doc["paths"][op.path][op.method.lower()]
    for param in entry["parameters"]:
        if param["in"] == "path":
            assert _validator(doc, param["schema"]).is_valid(param["example"])
    if op.body is not None:
        media = entry["requestBody"]["content"]["application/json"]
        assert "example" in media
        assert _validator(doc, media["schema"]).is_valid(media["example"])
        # And the server's own model accepts it (strict, as a request body).
        op.body.model_validate_json(json.dumps(media["example"]))
    success = entry["responses"][str(op.status)]
    if op.status == 204:
        assert "content" not in success
    elif op.response is not None:
        media = success["content"]["application/json"]
        errors = list(_validator(doc, media["schema"]).iter_errors(media["example"]))
        assert not errors, [str(e) for e in errors[:3]]
        TypeAdapter(op.response).validate_python(media["example"])


def _closed_set(annotation: Any) -> bool:
    """A Literal, a StrEnum or `OneOf` text (optional or not): values the document must list."""
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return True
    if get_origin(annotation) is Literal:
        return True
    if get_origin(annotation) is Annotated and any(
        isinstance(meta, OneOf) for meta in annotation.__metadata__
    ):
        return True
    return any(_closed_set(arg) for arg in get_args(annotation))


@pytest.mark.parametrize("op", [p for p in OPS if p.values[0].query is not None])
def test_query_parameters_carry_their_enums_and_bounds(op: Operation) -> None:
    doc = _document()
    entry = doc["paths"][op.path][op.method.lower()]
    documented = {p["name"]: p["schema"] for p in entry["parameters"] if p["in"] == "query"}
    assert op.query is not None
    assert set(documented) == set(op.query.model_fields)
    for name, schema in documented.items():
        assert "anyOf" not in schema or {"type": "null"} not in schema["anyOf"], name
        if schema.get("type") == "integer":
            assert "minimum" in schema and "maximum" in schema, name
        if _closed_set(op.query.model_fields[name].annotation):
            assert _resolve(doc, schema).get("enum"), name


def test_creates_link_to_what_they_created() -> None:
    doc = _document()
    links = doc["paths"]["/api/v1/assets"]["post"]["responses"]["201"]["links"]
    assert links["getAsset"]["parameters"] == {"asset_id": "$response.body#/data/id"}
    assert {"updateAsset", "decommissionAsset"} <= set(links)
