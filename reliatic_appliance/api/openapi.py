"""OpenAPI 3.1 document, generated from the route table and its pydantic models (SPEC §3).

The models that validate requests are the models described here, so the document cannot
drift from what the server accepts. Every status an operation can answer is listed with the
error schema, every header the server reads (Idempotency-Key, If-Match, If-None-Match) is a
parameter, and every operation has an example. Built once at start-up, served as bytes.
`tests/test_openapi.py` checks it is complete; `tests/test_fuzz.py` that it is true.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pydantic_core
from pydantic.json_schema import models_json_schema

from reliatic_appliance import __version__
from reliatic_appliance.api import etags, idempotency
from reliatic_appliance.api.openapi_examples import EXAMPLE_IDS, error_example, from_schema
from reliatic_appliance.api.openapi_schema import OpenApiJsonSchema
from reliatic_appliance.api.protocol import MAX_FIELD_BYTES, MAX_HEADERS, MAX_LINE_BYTES
from reliatic_appliance.api.routes import Operation
from reliatic_appliance.schemas.common import ErrorBody

REF = "#/components/schemas/{model}"

_ERROR_TEXT = {
    400: "Validation error: one `details` entry per field (body, query, path or header).",
    401: "Missing or malformed credentials (`unauthorized`) or an invalid, revoked or"
    " expired key (`invalid_api_key`).",
    403: "The key lacks the permission this operation needs.",
    404: "No such resource in this tenant.",
    409: "Conflicts with the current state (a duplicate unique field, a refused status"
    " change), or an Idempotency-Key reused for a different request.",
    412: "If-Match did not match the resource's current ETag; nothing was changed.",
    413: "The request body is larger than the server accepts.",
    414: f"The URL is longer than the server accepts ({MAX_LINE_BYTES} bytes).",
    415: "The request body is not `application/json` (UTF-8).",
    429: "Rate limit exceeded; see Retry-After.",
    431: f"A request header is longer than the server accepts ({MAX_FIELD_BYTES} bytes), or"
    f" there are more than {MAX_HEADERS} of them.",
    500: "Unexpected server error; quote X-Request-Id.",
    503: "Storage busy or full (or, for /readyz, not ready); retry later.",
}

_DESCRIPTION = """On-premises reliability and mechanical-integrity data API.

Authenticate with `Authorization: Bearer rl_live_...`. Errors are `{error, message, details}`;
lists are paginated with `page`/`per_page` and carry `meta` and an RFC 8288 `Link` header.

**Idempotency.** Send `Idempotency-Key` (1-255 printable ASCII characters) on a POST, PUT or
DELETE: repeating the same request with the same key within 24 h returns the first response
(with `Idempotent-Replayed: true`) without doing the work again; the same key with a
different request is 409 `conflict`. Keys are per API key. A second request sent while the
first still runs waits for it. Responses below 500 are kept; a 5xx is not, so retry it.

**Optimistic concurrency.** Single-resource responses carry a strong `ETag`. Send it back as
`If-Match` on a PUT, status change, DELETE or other write to that resource: if the resource
changed meanwhile the answer is 412 `precondition_failed` and nothing changes. A GET with
`If-None-Match` is answered 304 (no body) while the representation is unchanged."""

_TAG_PATTERN = r'^ *(\*|(W/)?"[!#-~]*"( *, *(W/)?"[!#-~]*")*) *$'
_EXAMPLE_ETAG = '"5d41402abc4b2a76b9719d911017c592aa8c1e7f"'


def _header(description: str, schema: dict[str, Any], *, required: bool) -> dict[str, Any]:
    return {"description": description, "required": required, "schema": schema}


_HEADER_DEFINITIONS = {
    "X-Request-Id": _header(
        "The request's id (echoed when the client sent a sane one).",
        {"type": "string", "minLength": 1, "maxLength": 128},
        required=True,
    ),
    "X-RateLimit-Limit": _header(
        "Requests allowed in the window.", {"type": "integer"}, required=True
    ),
    "X-RateLimit-Remaining": _header(
        "Requests left in the window.", {"type": "integer"}, required=True
    ),
    "X-RateLimit-Reset": _header(
        "Unix time the window resets.", {"type": "integer"}, required=True
    ),
}
_HEADER_DEFINITIONS["ETag"] = _header(
    "Strong entity tag of the representation.", {"type": "string"}, required=True
)
_HEADER_DEFINITIONS["Retry-After"] = _header("Seconds to wait.", {"type": "integer"}, required=True)
# Every response carries these (SPEC §3, §4), defined once under components/headers.
_COMMON_HEADERS = {
    name: {"$ref": f"#/components/headers/{name}"}
    for name in ("X-Request-Id", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
}
_ETAG = {"$ref": "#/components/headers/ETag"}


def _error_statuses(op: Operation) -> list[int]:
    # 414 and 431: any request can be too long before it is even routed.
    statuses = {400, 414, 429, 431, 500, 503}
    if op.permission is not None:
        statuses |= {401, 403}
    if op.body is not None:
        statuses |= {413, 415}
    if op.path_params:
        statuses.add(404)
    if idempotency.applies_to(op):
        statuses.add(409)
    if etags.honours_if_match(op):
        statuses.add(412)
    statuses.update(op.errors)
    return sorted(statuses)


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """An optional query parameter is absent, never `null`: drop the null branch."""
    branches = schema.get("anyOf")
    if branches and len(branches) == 2 and {"type": "null"} in branches:
        rest = {k: v for k, v in schema.items() if k not in ("anyOf", "default")}
        other = next(b for b in branches if b != {"type": "null"})
        return {**other, **rest}
    return schema


def _query_parameters(op: Operation, schemas: dict[str, Any]) -> list[dict[str, Any]]:
    if op.query is None:
        return []
    schema = op.query.model_json_schema(
        ref_template=REF, mode="validation", schema_generator=OpenApiJsonSchema
    )
    for name, definition in schema.get("$defs", {}).items():
        schemas.setdefault(name, definition)
    params = []
    for name, prop in schema.get("properties", {}).items():
        prop = _without_null(dict(prop))
        description = prop.pop("description", None)
        prop.pop("title", None)
        param: dict[str, Any] = {"name": name, "in": "query", "required": False, "schema": prop}
        if description:
            param["description"] = description
        params.append(param)
    return params


def _path_parameters(op: Operation) -> list[dict[str, Any]]:
    # Any text is accepted: an id that is not in the tenant is a 404 (SPEC §3).
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            "description": text,
            "schema": {"type": "string", "minLength": 1, "maxLength": 64},
            "example": EXAMPLE_IDS[name],
        }
        for name, text in op.path_params.items()
    ]


def _header_parameters(op: Operation) -> list[dict[str, Any]]:
    params = []
    if idempotency.applies_to(op):
        params.append(
            {
                "name": idempotency.HEADER,
                "in": "header",
                "required": False,
                "description": "Makes a retry safe: the same request with the same key within"
                " 24 h replays the first response; a different request with it is 409.",
                "schema": {"type": "string", "pattern": idempotency.KEY_PATTERN, "maxLength": 255},
                "example": "4c1d6c1e-5e2a-4f0b-9a3e-0f6f6a1d2b7c",
            }
        )
    if etags.honours_if_match(op):
        params.append(
            {
                "name": "If-Match",
                "in": "header",
                "required": False,
                "description": "Only if the resource's current ETag is one of these (strong"
                " comparison) or `*`; else 412 and nothing changes.",
                "schema": {"type": "string", "pattern": _TAG_PATTERN},
                "example": _EXAMPLE_ETAG,
            }
        )
    if etags.supports_not_modified(op):
        params.append(
            {
                "name": "If-None-Match",
                "in": "header",
                "required": False,
                "description": "304 without a body while the ETag is one of these, or `*`.",
                "schema": {"type": "string", "pattern": _TAG_PATTERN},
                "example": _EXAMPLE_ETAG,
            }
        )
    return params


def _links(op: Operation, ops: Sequence[Operation]) -> dict[str, Any]:
    """From a create to what can be done with what it created (schemathesis' stateful
    phase follows these): every operation on `<this path>/{id}` and below."""
    if op.method != "POST" or op.path_params:
        return {}
    links = {}
    for other in ops:
        names = list(other.path_params)
        prefix = f"{op.path}/{{{names[-1]}}}" if names else None
        if len(names) == 1 and prefix and (other.path + "/").startswith(prefix + "/"):
            links[other.operation_id] = {
                "operationId": other.operation_id,
                "parameters": {names[0]: "$response.body#/data/id"},
            }
    return links


def _success(
    op: Operation, ref: dict[str, Any], components: dict[str, Any], ops: Sequence[Operation]
) -> dict[str, Any]:
    headers = dict(_COMMON_HEADERS)
    if op.collection:
        headers["Link"] = _header(
            "RFC 8288 first/prev/next/last.", {"type": "string"}, required=True
        )
    if etags.bears_etag(op):
        headers["ETag"] = _ETAG
    if op.status == 201:
        headers["Location"] = _header("The new resource.", {"type": "string"}, required=True)
    if idempotency.applies_to(op):
        headers[idempotency.REPLAYED] = _header(
            "`true` when this is the stored first response to the same Idempotency-Key.",
            {"type": "string", "enum": ["true"]},
            required=False,
        )
    success: dict[str, Any] = {"description": op.summary, "headers": headers}
    if op.response is not None and op.status != 204:
        example = from_schema(ref, components)
        success["content"] = {"application/json": {"schema": ref, "example": example}}
    links = _links(op, ops)
    if links:
        success["links"] = links
    return success


def _responses(
    op: Operation,
    success_ref: dict[str, Any] | None,
    components: dict[str, Any],
    ops: Sequence[Operation],
) -> dict[str, Any]:
    responses: dict[str, Any] = {str(op.status): _success(op, success_ref or {}, components, ops)}
    if etags.supports_not_modified(op):
        responses["304"] = {
            "description": "Not modified: If-None-Match matched the current ETag.",
            "headers": {**_COMMON_HEADERS, "ETag": _ETAG},
        }
    for status in _error_statuses(op):
        responses[str(status)] = {"$ref": f"#/components/responses/Error{status}"}
    return responses


def _error_responses(error_ref: dict[str, Any]) -> dict[str, Any]:
    """One shared response per error status, under components/responses."""
    responses = {}
    for status, text in _ERROR_TEXT.items():
        headers = dict(_COMMON_HEADERS)
        if status == 429:
            headers["Retry-After"] = {"$ref": "#/components/headers/Retry-After"}
        responses[f"Error{status}"] = {
            "description": text,
            "headers": headers,
            "content": {
                "application/json": {"schema": error_ref, "example": error_example(status)}
            },
        }
    return responses


def _operation(
    op: Operation,
    ref: Any,
    schemas: dict[str, Any],
    ops: Sequence[Operation],
) -> dict[str, Any]:
    parameters = _path_parameters(op) + _query_parameters(op, schemas) + _header_parameters(op)
    success_ref = ref(op.response, "serialization") if op.response is not None else None
    entry: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "tags": [op.tag],
        "parameters": parameters,
        "responses": _responses(op, success_ref, schemas, ops),
    }
    if op.description:
        entry["description"] = op.description
    if op.deprecated is not None:
        entry["deprecated"] = True
    if op.permission is not None:
        entry["security"] = [{"bearerAuth": []}]
        entry["x-required-permission"] = op.permission
        entry["description"] = (
            f"{entry.get('description', '')}\n\nRequires `{op.permission}`.".strip()
        )
    else:
        entry["security"] = []
    if op.body is not None:
        body_ref = ref(op.body, "validation")
        examples = op.body.model_json_schema().get("examples") or [{}]
        entry["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body_ref, "example": examples[0]}},
        }
    return entry


def build_document(operations: Iterable[Operation]) -> dict[str, Any]:
    ops = [op for op in operations if op.in_schema]
    models: list[tuple[Any, Any]] = [(ErrorBody, "serialization")]
    for op in ops:
        if op.body is not None:
            models.append((op.body, "validation"))
        if op.response is not None:
            models.append((op.response, "serialization"))
    key_map, defs = models_json_schema(models, ref_template=REF, schema_generator=OpenApiJsonSchema)
    schemas: dict[str, Any] = dict(defs.get("$defs", {}))

    def ref(model: Any, mode: str) -> dict[str, Any]:
        return key_map[(model, mode)]  # type: ignore[index]  # pydantic types the mode as a Literal

    paths: dict[str, dict[str, Any]] = {}
    for op in ops:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, ref, schemas, ops)

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Reliatic Appliance API",
            "version": __version__,
            "description": _DESCRIPTION,
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": _error_responses(ref(ErrorBody, "serialization")),
            "headers": _HEADER_DEFINITIONS,
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
