"""Examples for the OpenAPI document, derived from the same JSON Schemas (one source of truth).

A request body's example is the one its pydantic model declares (`json_schema_extra`); a
response's example is built from its schema: a field's own `examples` first, else a value of
its type within its bounds. `tests/test_openapi.py` validates every example against its
schema, so a model change that makes an example wrong fails the suite.
"""

from __future__ import annotations

from typing import Any

from reliatic_appliance.errors import CODE_BY_STATUS

# Ids used as path-parameter examples. `tests/test_fuzz.py` seeds rows with exactly these
# ids, so the fuzzer's example phase reaches real rows, not only 404s.
EXAMPLE_IDS: dict[str, str] = {
    "asset_id": "ast_01JQ8Z6X4M0000000000000000",
    "inspection_id": "insp_01JQ8Z6X4M0000000000000000",
    "failure_mode_id": "fmd_01JQ8Z6X4M0000000000000000",
    "action_id": "act_01JQ8Z6X4M0000000000000000",
    "risk_assessment_id": "rsk_01JQ8Z6X4M0000000000000000",
    "moc_id": "moc_01JQ8Z6X4M0000000000000000",
    "alert_id": "alr_01JQ8Z6X4M0000000000000000",
    "webhook_id": "whk_01JQ8Z6X4M0000000000000000",
    "delivery_id": "dlv_01JQ8Z6X4M0000000000000000",
    "key_id": "key_01JQ8Z6X4M0000000000000000",
}

# The model whose `id` each example id is, so response examples show realistic ids.
_ID_OF_MODEL = {
    "Asset": "asset_id",
    "Inspection": "inspection_id",
    "FailureMode": "failure_mode_id",
    "Action": "action_id",
    "RiskAssessment": "risk_assessment_id",
    "Moc": "moc_id",
    "Alert": "alert_id",
    "Webhook": "webhook_id",
    "WebhookWithSecret": "webhook_id",
    "Delivery": "delivery_id",
    "ApiKey": "key_id",
    "ApiKeyCreated": "key_id",
}

_FORMATS = {
    "date-time": "2026-04-01T12:00:00.000000Z",
    "date": "2026-04-01",
    "uri": "https://cmms.plant.local/hooks/reliatic",
}
MAX_DEPTH = 8


def _resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def from_schema(schema: dict[str, Any], components: dict[str, Any], depth: int = 0) -> Any:
    """A value valid against `schema` (refs into `components`), realistic where it can be."""
    schema = _resolve(schema, components)
    if depth > MAX_DEPTH:
        return None
    if "examples" in schema:
        return schema["examples"][0]
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            branches = [b for b in schema[key] if _resolve(b, components).get("type") != "null"]
            return from_schema((branches or schema[key])[0], components, depth + 1)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return {
            name: _property(schema.get("title", ""), name, prop, components, depth)
            for name, prop in schema.get("properties", {}).items()
        }
    if kind == "array":
        items = schema.get("items", {})
        return [from_schema(items, components, depth + 1)] if items else []
    if kind == "string":
        text = _FORMATS.get(schema.get("format", ""), "string")
        return text if len(text) >= schema.get("minLength", 0) else "x" * schema["minLength"]
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0))
        value = max(low, 1) if "maximum" not in schema else min(max(low, 1), schema["maximum"])
        return int(value) if kind == "integer" else float(value)
    if kind == "boolean":
        return True
    return None


def _property(
    model: str, name: str, schema: dict[str, Any], components: dict[str, Any], depth: int
) -> Any:
    value = from_schema(schema, components, depth + 1)
    if value == "string":
        id_name = _ID_OF_MODEL.get(model) if name == "id" else name
        value = EXAMPLE_IDS.get(id_name or "", value)
    return value


def error_example(status: int) -> dict[str, Any]:
    """The error body of `status` as the server writes it (SPEC §3)."""
    error = CODE_BY_STATUS[status]
    details: list[dict[str, Any]] = []
    if status == 400:
        details = [{"field": "severity", "message": "Input should be less than or equal to 10"}]
    return {"error": error.code, "message": error.default_message, "details": details}
