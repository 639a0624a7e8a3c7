"""OpenAPI 3.1 document, generated from the route table and its pydantic models.

The models that validate requests are the models described here, so the document cannot
drift from what the server accepts. Built once at start-up and served as bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pydantic_core
from pydantic.json_schema import models_json_schema

from reliatic_appliance import __version__
from reliatic_appliance.api.routes import Operation
from reliatic_appliance.schemas.common import ErrorBody

REF = "#/components/schemas/{model}"

_ERROR_TEXT = {
    400: "Validation error: one `details` entry per field.",
    401: "Missing or malformed credentials (`unauthorized`) or an invalid, revoked or"
    " expired key (`invalid_api_key`).",
    403: "The key lacks the permission this operation needs.",
    404: "No such resource in this tenant.",
    405: "Method not allowed on this path.",
    409: "Conflicts with the current state (e.g. a duplicate unique field).",
    412: "If-Match did not match the current ETag.",
    413: "The request body is larger than the server accepts.",
    415: "The request body is not `application/json`.",
    429: "Rate limit exceeded; see Retry-After.",
    500: "Unexpected server error; quote X-Request-Id.",
    503: "Storage busy or full; retry later.",
}

_RATE_HEADERS = {
    "X-RateLimit-Limit": {"description": "Requests allowed in the window.", "type": "integer"},
    "X-RateLimit-Remaining": {"description": "Requests left in the window.", "type": "integer"},
    "X-RateLimit-Reset": {"description": "Unix time the window resets.", "type": "integer"},
    "X-Request-Id": {
        "description": "The request's id (echoed when the client sent one).",
        "type": "string",
    },
}


def _headers(extra: dict[str, dict[str, str]] | None = None) -> dict[str, Any]:
    merged = {**_RATE_HEADERS, **(extra or {})}
    return {
        name: {"description": spec["description"], "schema": {"type": spec["type"]}}
        for name, spec in merged.items()
    }


def _error_statuses(op: Operation) -> list[int]:
    statuses = {400, 429, 500, 503}
    if op.permission is not None:
        statuses |= {401, 403}
    if op.body is not None:
        statuses |= {413, 415}
    if op.path_params:
        statuses.add(404)
    statuses.update(op.errors)
    return sorted(statuses)


def _query_parameters(op: Operation, schemas: dict[str, Any]) -> list[dict[str, Any]]:
    if op.query is None:
        return []
    schema = op.query.model_json_schema(ref_template=REF, mode="validation")
    for name, definition in schema.get("$defs", {}).items():
        schemas.setdefault(name, definition)
    params = []
    for name, prop in schema.get("properties", {}).items():
        prop = dict(prop)
        description = prop.pop("description", None)
        prop.pop("title", None)
        param: dict[str, Any] = {"name": name, "in": "query", "required": False, "schema": prop}
        if description:
            param["description"] = description
        params.append(param)
    return params


def build_document(operations: Iterable[Operation]) -> dict[str, Any]:
    ops = [op for op in operations if op.in_schema]
    models: list[tuple[Any, Any]] = [(ErrorBody, "serialization")]
    for op in ops:
        if op.body is not None:
            models.append((op.body, "validation"))
        if op.response is not None:
            models.append((op.response, "serialization"))
    key_map, defs = models_json_schema(models, ref_template=REF)
    schemas: dict[str, Any] = dict(defs.get("$defs", {}))

    def ref(model: Any, mode: str) -> dict[str, Any]:
        return key_map[(model, mode)]  # type: ignore[index]

    paths: dict[str, dict[str, Any]] = {}
    for op in ops:
        parameters = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "description": text,
                "schema": {"type": "string", "minLength": 1, "maxLength": 64},
            }
            for name, text in op.path_params.items()
        ]
        parameters += _query_parameters(op, schemas)
        success_headers = _headers(
            {"Link": {"description": "RFC 8288 first/prev/next/last.", "type": "string"}}
            if op.collection
            else None
        )
        success: dict[str, Any] = {"description": op.summary, "headers": success_headers}
        if op.response is not None:
            success["content"] = {"application/json": {"schema": ref(op.response, "serialization")}}
        responses: dict[str, Any] = {str(op.status): success}
        for status in _error_statuses(op):
            error_headers = _headers(
                {"Retry-After": {"description": "Seconds to wait.", "type": "integer"}}
                if status == 429
                else None
            )
            responses[str(status)] = {
                "description": _ERROR_TEXT[status],
                "headers": error_headers,
                "content": {"application/json": {"schema": ref(ErrorBody, "serialization")}},
            }
        entry: dict[str, Any] = {
            "operationId": op.operation_id,
            "summary": op.summary,
            "tags": [op.tag],
            "parameters": parameters,
            "responses": responses,
        }
        if op.description:
            entry["description"] = op.description
        if op.permission is not None:
            entry["security"] = [{"bearerAuth": []}]
            entry["x-required-permission"] = op.permission
            entry["description"] = (
                f"{entry.get('description', '')}\n\nRequires `{op.permission}`.".strip()
            )
        else:
            entry["security"] = []
        if op.body is not None:
            entry["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": ref(op.body, "validation")}},
            }
        paths.setdefault(op.path, {})[op.method.lower()] = entry

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Reliatic Appliance API",
            "version": __version__,
            "description": (
                "On-premises reliability and mechanical-integrity data API. Authenticate with"
                " `Authorization: Bearer rl_live_...`. Errors are"
                " `{error, message, details}`; lists are paginated with `page`/`per_page`"
                " and carry `meta` and a `Link` header."
            ),
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key: rl_live_ followed by 43 characters.",
                }
            },
        },
    }


def render(operations: Iterable[Operation]) -> bytes:
    return pydantic_core.to_json(build_document(operations), indent=1)
