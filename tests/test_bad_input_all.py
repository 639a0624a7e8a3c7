"""SPEC §9 bad input against EVERY endpoint, as one table (issue 6).

The rows are generated from the route table and the pydantic models the server validates
with, so a new endpoint or field is covered without anyone remembering to add it:

- every operation with a body x every generic bad body (malformed JSON, array, scalar,
  null, empty, invalid UTF-8, unknown field, wrong media type or charset, too large);
- every field of every body model x its bad values (wrong type, null where not nullable,
  unknown enum value, out of range, NaN/Infinity, too long, control characters), and every
  create without its required fields;
- every list x bad page/per_page, unknown and repeated parameters, invalid UTF-8, and a bad
  value of each of its filters; every operation x an unknown query parameter;
- every by-id operation x an unknown id (404) and invalid UTF-8 in the path;
- every path x a wrong method (405 with `Allow`);
- every write x a malformed Idempotency-Key or If-Match (with an otherwise valid request:
  were the header ignored, it would write);
plus hand-written rows for rules only the services know (unknown references, duplicates,
refused transitions, target policy, dates in the future).

Each row checks the status, the error code, the exact `details` field names, and that
nothing was written: the full content of every table of the tenant file (events, outbox and
idempotency records included) and the tenant's API keys are unchanged. One server with one
row of every resource serves the whole table (scheduler off, so nothing else writes).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from yarl import URL

from reliatic_appliance.api import etags, idempotency
from reliatic_appliance.api.routes import Operation
from reliatic_appliance.app import OPERATIONS, create_app
from reliatic_appliance.storage.layout import initialise
from tests.conftest import Api, make_settings, open_api
from tests.resources import ADMIN_SCOPES, seed_all, table_counts

JSON = "application/json"
UNKNOWN_ID = "zzz_01ZZZZZZZZZZZZZZZZZZZZZZZZ"
MAX_BODY = 1024 * 1024  # the default [server] max_body_bytes
OPS = [op for op in OPERATIONS if op.in_schema]


@dataclass(frozen=True)
class Row:
    method: str
    path: str  # a template: {asset_id} etc. are filled with the seeded rows' ids
    status: int
    code: str
    fields: tuple[str, ...] = ()
    body: bytes | None = None
    content_type: str | None = JSON
    headers: tuple[tuple[str, str], ...] = ()


def param(row: Row, name: str) -> Any:
    return pytest.param(row, id=name)


def dumps(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


def example_body(model: type[pydantic.BaseModel]) -> dict[str, Any]:
    examples = model.model_json_schema().get("examples") or [{}]
    return dict(examples[0])


# -- per field: bad values from the field's own JSON Schema --------------------------------


def _core(schema: dict[str, Any], defs: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The property's schema without its null branch, and whether null is allowed."""
    if "$ref" in schema:
        schema = defs[schema["$ref"].rsplit("/", 1)[-1]]
    branches = schema.get("anyOf")
    if branches:
        rest = [b for b in branches if b.get("type") != "null"]
        nullable = len(rest) < len(branches)
        core = rest[0] if len(rest) == 1 else schema
        return _core(core, defs)[0], nullable
    return schema, schema.get("type") == "null"


def bad_values(schema: dict[str, Any], defs: dict[str, Any]) -> Iterator[tuple[str, Any, str]]:
    """(row id, raw JSON of a bad value, suffix of the field name pydantic reports)."""
    core, nullable = _core(schema, defs)
    kind = core.get("type")
    wrong = {"string": 12345, "integer": "12", "number": "1.5", "boolean": "yes", "array": "x"}
    if kind in wrong:
        yield "wrong-type", json.dumps(wrong[kind]), ""
    if not nullable:
        yield "null", "null", ""
    if "enum" in core:
        yield "unknown-enum", '"not-a-known-value"', ""
    if kind in ("integer", "number"):
        for bound, step in (("maximum", 1), ("minimum", -1)):
            if bound in core:
                yield f"{bound}-exceeded", json.dumps(core[bound] + step), ""
        for bound in ("exclusiveMaximum", "exclusiveMinimum"):
            if bound in core:
                yield f"{bound}-reached", json.dumps(core[bound]), ""
        yield "nan", "NaN", ""
        yield "infinity", "-Infinity", ""
        yield "huge", "1" + "0" * 30, ""
    if kind == "integer":
        yield "fraction", "1.5", ""
    if kind == "string":
        if "maxLength" in core:
            yield "too-long", json.dumps("x" * (core["maxLength"] + 1)), ""
        if core.get("minLength", 0) >= 1:
            yield "empty", '""', ""
        if core.get("format") in ("date", "date-time"):
            # Not a Unix time: pydantic alone would take "0" for 1970-01-01.
            yield "digits-for-date", '"0"', ""
            yield "not-a-date", '"31/12/1999"', ""
        if {"pattern", "format", "enum"} & set(core):
            yield "control-char", json.dumps("ab\u0007cd"), ""
            yield "nul", json.dumps("ab\u0000cd"), ""
    if kind == "array":
        if core.get("minItems", 0) >= 1:
            yield "empty-list", "[]", ""
        item, _ = _core(core.get("items", {}), defs)
        if item.get("type") == "string":
            yield "bad-item", "[12345]", ".0"


def field_rows(op: Operation) -> Iterator[Any]:
    assert op.body is not None
    schema = op.body.model_json_schema(mode="validation")
    defs = schema.get("$defs", {})
    base = example_body(op.body)
    for name, prop in schema["properties"].items():
        rest = ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in base.items() if k != name)
        for case, raw, suffix in bad_values(prop, defs):
            body = "{" + (rest + ", " if rest else "") + f'"{name}": {raw}' + "}"
            row = Row(op.method, op.path, 400, "validation_error", (name + suffix,), body.encode())
            yield param(row, f"{op.operation_id}-{name}-{case}")
    required = [n for n, f in op.body.model_fields.items() if f.is_required()]
    if required:
        row = Row(op.method, op.path, 400, "validation_error", tuple(required), b"{}")
        yield param(row, f"{op.operation_id}-missing-required")


# -- per body: the same bad bodies for every operation that takes one ----------------------


def body_rows(op: Operation) -> Iterator[Any]:
    valid = dumps(example_body(op.body)) if op.body else b"{}"
    bad = "validation_error", ("body",)
    cases: list[tuple[str, bytes, str | None, int, tuple[str, tuple[str, ...]]]] = [
        ("malformed-json", b'{"name": "x",', JSON, 400, bad),
        ("trailing-garbage", valid + b" x", JSON, 400, bad),
        ("array", b"[1, 2]", JSON, 400, bad),
        ("scalar", b'"text"', JSON, 400, bad),
        ("number", b"42", JSON, 400, bad),
        ("null", b"null", JSON, 400, bad),
        ("empty", b"", JSON, 400, bad),
        ("whitespace", b"  \n ", JSON, 400, bad),
        ("invalid-utf8", b'{"name": "\xff\xfe"}', JSON, 400, bad),
        (
            "unknown-field",
            dumps({**example_body(op.body), "colour": "red"}) if op.body else b"",
            JSON,
            400,
            ("validation_error", ("colour",)),
        ),
        ("text-plain", valid, "text/plain", 415, ("unsupported_media_type", ())),
        (
            "form",
            b"name=x",
            "application/x-www-form-urlencoded",
            415,
            ("unsupported_media_type", ()),
        ),
        ("no-content-type", valid, None, 415, ("unsupported_media_type", ())),
        ("latin1-charset", valid, JSON + "; charset=latin-1", 415, ("unsupported_media_type", ())),
        (
            "too-large",
            b'{"x": "' + b"x" * (MAX_BODY + 10) + b'"}',
            JSON,
            413,
            ("payload_too_large", ()),
        ),
    ]
    for case, body, content_type, status, (code, fields) in cases:
        row = Row(op.method, op.path, status, code, fields, body, content_type)
        yield param(row, f"{op.operation_id}-body-{case}")


# -- per list: paging and filters ------------------------------------------------------------


def query_rows(op: Operation) -> Iterator[Any]:
    def row(case: str, query: str, fields: tuple[str, ...]) -> Any:
        item = Row("GET", f"{op.path}?{query}", 400, "validation_error", fields)
        return param(item, f"{op.operation_id}-query-{case}")

    yield row("unknown-parameter", "colour=red", ("colour",))
    yield row("invalid-utf8", "x=%ff%fe", ("query",))
    if op.query is None:
        return
    yield row("repeated", "page=1&page=2", ("page",))
    for case, value in (("zero", "0"), ("negative", "-1"), ("text", "abc"), ("huge", "9" * 30)):
        yield row(f"page-{case}", f"page={value}", ("page",))
    for case, value in (("zero", "0"), ("over-100", "101"), ("fraction", "2.5")):
        yield row(f"per_page-{case}", f"per_page={value}", ("per_page",))
    schema = op.query.model_json_schema(mode="validation")
    for name, prop in schema["properties"].items():
        if name in ("page", "per_page"):
            continue
        core, _ = _core(prop, schema.get("$defs", {}))
        kind = core.get("type")
        values: list[tuple[str, str]] = [("control-char", "a%07b")]
        if "enum" in core:
            values.append(("unknown", "not-a-known-value"))
        if kind == "integer":
            values += [("text", "abc"), ("huge", "9" * 30)]
            if "minimum" in core:
                values.append(("below-minimum", str(core["minimum"] - 1)))
        if kind == "boolean":
            values.append(("not-boolean", "maybe"))
        if core.get("format") in ("date", "date-time"):
            values += [("not-a-date", "yesterday"), ("digits-for-date", "0")]
        if "maxLength" in core:
            values.append(("too-long", "x" * (core["maxLength"] + 1)))
        for case, value in values:
            yield row(f"{name}-{case}", f"{name}={value}", (name,))


# -- per operation: ids, methods, headers ----------------------------------------------------


def _with_unknown_id(path: str, op: Operation) -> str:
    return path.replace("{" + list(op.path_params)[-1] + "}", UNKNOWN_ID)


def id_rows(op: Operation) -> Iterator[Any]:
    if not op.path_params:
        return
    body = dumps(example_body(op.body)) if op.body else None
    # Every id: the row is seeded, but this one is unknown. (Another tenant's ids are
    # indistinguishable from unknown ones: tests/test_assets_api.py shows that.)
    unknown = Row(op.method, _with_unknown_id(op.path, op), 404, "not_found", (), body)
    yield param(unknown, f"{op.operation_id}-unknown-id")
    sql = Row(
        op.method,
        _with_unknown_id(op.path, op).replace(UNKNOWN_ID, "1%27%20OR%20%271%27%3D%271"),
        404,
        "not_found",
        (),
        body,
    )
    yield param(sql, f"{op.operation_id}-sql-like-id")
    broken = Row(
        op.method,
        _with_unknown_id(op.path, op).replace(UNKNOWN_ID, "%ff%fe"),
        400,
        "validation_error",
        ("path",),
        body,
    )
    yield param(broken, f"{op.operation_id}-invalid-utf8-path")


def method_rows() -> Iterator[Any]:
    paths: dict[str, set[str]] = {}
    for op in OPS:
        paths.setdefault(op.path, set()).add(op.method)
    for path, methods in sorted(paths.items()):
        missing = [m for m in ("POST", "PUT", "DELETE") if m not in methods][:1]
        for method in ["PATCH", *missing]:
            row = Row(method, path, 405, "method_not_allowed", (), b"{}")
            yield param(row, f"{path}-{method}-405")


def header_rows(op: Operation) -> Iterator[Any]:
    body = dumps(example_body(op.body)) if op.body else None
    if idempotency.applies_to(op):
        for case, value in (("too-long", "k" * 256), ("not-ascii", "naïve"), ("blank", " ")):
            row = Row(
                op.method,
                op.path,
                400,
                "validation_error",
                ("Idempotency-Key",),
                body,
                headers=(("Idempotency-Key", value),),
            )
            yield param(row, f"{op.operation_id}-idempotency-key-{case}")
    if etags.honours_if_match(op):
        for case, value in (("not-quoted", "abc"), ("unterminated", '"abc'), ("junk", '"a" x')):
            row = Row(
                op.method,
                op.path,
                400,
                "validation_error",
                ("If-Match",),
                body,
                headers=(("If-Match", value),),
            )
            yield param(row, f"{op.operation_id}-if-match-{case}")
        stale = Row(
            op.method,
            op.path,
            412,
            "precondition_failed",
            ("If-Match",),
            body,
            headers=(("If-Match", '"stale"'),),
        )
        yield param(stale, f"{op.operation_id}-if-match-stale")


# -- rules only the services know -----------------------------------------------------------


def _json(
    method: str, path: str, body: dict[str, Any], status: int, code: str, *fields: str
) -> Row:
    return Row(method, path, status, code, fields, dumps(body))


ASSET = {"tag_number": "V-NEW", "name": "New", "asset_type": "tank"}
INSPECTION = {"inspection_type": "ut_spot", "inspection_date": "2024-03-01", "inspector_name": "J"}
SERVICE_ROWS = [
    param(
        _json(
            "POST",
            "/api/v1/assets",
            {**ASSET, "tag_number": "V-101"},
            409,
            "conflict",
            "tag_number",
        ),
        "asset-duplicate-tag",
    ),
    param(
        _json(
            "POST",
            "/api/v1/assets",
            {**ASSET, "tag_number": "v-101"},
            409,
            "conflict",
            "tag_number",
        ),
        "asset-duplicate-tag-other-case",
    ),
    param(
        _json(
            "PUT",
            "/api/v1/assets/{asset_id}",
            {"required_thickness_mm": 2000 / 3, "nominal_thickness_mm": 1.0},
            400,
            "validation_error",
            "required_thickness_mm",
        ),
        "asset-required-over-nominal",
    ),
    param(
        _json(
            "POST",
            "/api/v1/inspections",
            {**INSPECTION, "asset_id": UNKNOWN_ID},
            400,
            "validation_error",
            "asset_id",
        ),
        "inspection-unknown-asset",
    ),
    param(
        _json(
            "POST",
            "/api/v1/inspections",
            {**INSPECTION, "asset_id": "{asset_id}", "inspection_date": "2999-01-01"},
            400,
            "validation_error",
            "inspection_date",
        ),
        "inspection-in-the-future",
    ),
    param(
        _json(
            "PUT",
            "/api/v1/inspections/{inspection_id}",
            {"asset_id": UNKNOWN_ID},
            400,
            "validation_error",
            "asset_id",
        ),
        "inspection-move-to-other-asset",
    ),
    param(
        _json(
            "POST",
            "/api/v1/failure-modes",
            {
                "asset_id": UNKNOWN_ID,
                "description": "d",
                "severity": 1,
                "occurrence": 1,
                "detection": 1,
            },
            400,
            "validation_error",
            "asset_id",
        ),
        "failure-mode-unknown-asset",
    ),
    param(
        _json(
            "POST",
            "/api/v1/actions",
            {"title": "t", "priority": "low", "failure_mode_id": UNKNOWN_ID},
            400,
            "validation_error",
            "failure_mode_id",
        ),
        "action-unknown-failure-mode",
    ),
    param(
        _json(
            "PUT",
            "/api/v1/actions/{action_id}/status",
            {"status": "closed"},
            409,
            "conflict",
            "status",
        ),
        "action-refused-transition",
    ),
    param(
        _json(
            "POST",
            "/api/v1/risk-assessments",
            {"asset_id": UNKNOWN_ID, "probability_of_failure": 1, "consequence_of_failure": 1},
            400,
            "validation_error",
            "asset_id",
        ),
        "risk-assessment-unknown-asset",
    ),
    param(
        _json(
            "POST",
            "/api/v1/mocs",
            {"title": "t", "requested_by": "r", "asset_id": UNKNOWN_ID},
            400,
            "validation_error",
            "asset_id",
        ),
        "moc-unknown-asset",
    ),
    param(
        _json(
            "PUT", "/api/v1/mocs/{moc_id}/status", {"status": "approved"}, 409, "conflict", "status"
        ),
        "moc-refused-transition",
    ),
    param(
        _json(
            "POST",
            "/api/v1/webhooks",
            {"url": "http://cmms.example.invalid/h", "events": ["asset.created"]},
            400,
            "validation_error",
            "url",
        ),
        "webhook-plain-http",
    ),
    param(
        _json(
            "POST",
            "/api/v1/webhooks",
            {"url": "https://169.254.169.254/latest", "events": ["asset.created"]},
            400,
            "validation_error",
            "url",
        ),
        "webhook-metadata-address",
    ),
    param(
        _json(
            "POST",
            "/api/v1/webhooks",
            {
                "url": "https://cmms.example.invalid/h",
                "events": ["asset.created"],
                "secret": "whsec_" + "A" * 88,
            },
            400,
            "validation_error",
            "secret",
        ),
        "webhook-secret-over-64-bytes",
    ),
    param(
        _json(
            "POST",
            "/api/v1/api-keys",
            {
                "name": "x",
                "level": "read_write",
                "permissions": [
                    "audit:read",
                    "webhooks:write",
                    "api_keys:write",
                    "api_keys:read",
                    "webhooks:read",
                ],
                "expires_at": "2000-01-01T00:00:00Z",
            },
            400,
            "validation_error",
            "expires_at",
        ),
        "api-key-expired-at-birth",
    ),
    param(
        Row(
            "GET",
            "/api/v1/failure-modes?rpn_min=500&rpn_max=100",
            400,
            "validation_error",
            ("rpn_min",),
        ),
        "failure-modes-rpn-range-inverted",
    ),
    param(
        Row(
            "GET",
            "/api/v1/inspections?date_from=2024-02-01&date_to=2024-01-01",
            400,
            "validation_error",
            ("date_from",),
        ),
        "inspections-date-range-inverted",
    ),
    param(Row("GET", "/api/v1/nothing-here", 404, "not_found"), "unknown-path"),
]


def all_rows() -> list[Any]:
    rows: list[Any] = []
    for op in OPS:
        if op.body is not None:
            rows += body_rows(op)
            rows += field_rows(op)
        if op.method == "GET":
            rows += query_rows(op)
        rows += id_rows(op)
        rows += header_rows(op)
    rows += method_rows()
    rows += SERVICE_ROWS
    return rows


# -- the server, seeded once -----------------------------------------------------------------


@dataclass
class World:
    api: Api
    ids: dict[str, str]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    data_dir: Path = tmp_path_factory.mktemp("bad-input") / "data"
    initialise(data_dir)
    # No scheduler: nothing but the requests under test may write.
    app = create_app(make_settings(data_dir), run_scheduler=False)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        api = await open_api(client, ADMIN_SCOPES)
        yield World(api=api, ids=await seed_all(api))
    finally:
        await client.close()


def _fill(template: str, ids: dict[str, str]) -> str:
    for name, value in ids.items():
        template = template.replace("{" + name + "}", value)
    return template


# One event loop for the module: the seeded server outlives each row.
@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("row", all_rows())
async def test_bad_input_is_refused_and_writes_nothing(world: World, row: Row) -> None:
    api = world.api
    path = _fill(row.path, world.ids)
    body = (
        None
        if row.body is None
        else _fill(row.body.decode("utf-8", "surrogateescape"), world.ids).encode(
            "utf-8", "surrogateescape"
        )
    )
    headers = dict(row.headers)
    if row.content_type is not None:
        headers["Content-Type"] = row.content_type
    before = await table_counts(api)
    # Sent as written: percent-encoded bytes and odd characters must reach the server.
    url = URL(str(api.client.make_url("")).rstrip("/") + path, encoded=True)
    response = await api.client.session.request(
        row.method,
        url,
        data=body,
        headers={**api.headers(), **headers},
        skip_auto_headers=("Content-Type",) if row.content_type is None else (),
    )
    text = await response.text()
    assert response.status == row.status, text
    error = json.loads(text)
    assert set(error) == {"error", "message", "details"}
    assert error["error"] == row.code, text
    assert error["message"] and "Traceback" not in text and "sqlite" not in text.lower()
    assert tuple(d["field"] for d in error["details"]) == row.fields, text
    if row.status == 405:
        allowed = {m.strip() for m in response.headers["Allow"].split(",")}
        assert {op.method for op in OPS if op.path == row.path} <= allowed
    assert await table_counts(api) == before
    # Still serving.
    assert (await api.get("/api/v1/assets")).status == 200


def test_the_table_covers_every_operation() -> None:
    rows = [p.values[0] for p in all_rows()]
    for op in OPS:
        paths = {op.path, _with_unknown_id(op.path, op) if op.path_params else op.path}
        assert any(r.method == op.method and r.path.split("?")[0] in paths for r in rows), op


def test_every_number_and_text_input_is_bounded() -> None:
    """SPEC §3: every integer field has bounds (numbers and texts too, here), so the
    out-of-range rows above exist for each of them."""
    unbounded = []
    for op in OPS:
        for model in (op.body, op.query):
            if model is None:
                continue
            schema = model.model_json_schema(mode="validation")
            for name, prop in schema["properties"].items():
                core, _ = _core(prop, schema.get("$defs", {}))
                kind = core.get("type")
                keys = set(core)
                if kind in ("integer", "number"):
                    low = {"minimum", "exclusiveMinimum"} & keys
                    high = {"maximum", "exclusiveMaximum"} & keys
                    if not (low and high):
                        unbounded.append(f"{op.operation_id}.{name}")
                if kind == "string" and not {"maxLength", "enum", "format"} & keys:
                    unbounded.append(f"{op.operation_id}.{name}")
    assert not unbounded
