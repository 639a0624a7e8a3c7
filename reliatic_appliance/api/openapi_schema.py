"""pydantic's JSON Schema generation, as the OpenAPI document needs it (SPEC §3, issue 11).

A partial update declares the fields a client may leave out with a default of None
(`name: Name = None` in `AssetUpdate`): a field not sent is left alone, and an explicit null
is refused, since pydantic never validates a default. pydantic still writes that default
into the schema, `"default": null` beside `"type": "string"`, and OAS 3.1 (JSON Schema
2020-12) wants a default valid against its own schema: openapi-spec-validator, client
generators and gateways refuse the document. So a null default is left out wherever the
field's type does not admit null. The field is not made nullable instead: null is not
accepted there, and the document must say what the server accepts.
"""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

# Core schemas whose values are whatever the schema they wrap accepts.
_WRAPPERS = frozenset(
    {"function-before", "function-after", "function-wrap", "default", "definitions"}
)
# Core schemas that accept null, or cannot be told from here (a plain validator's function,
# a reference to a definition elsewhere): their null default stays.
_MAY_BE_NULL = frozenset({"nullable", "none", "any", "function-plain", "definition-ref"})


def admits_null(schema: CoreSchema) -> bool:
    """Could null be a valid value of this core schema? (True when unsure: a default is
    dropped only when it certainly is not.)"""
    kind = schema["type"]
    if kind in _MAY_BE_NULL:
        return True
    if kind == "union":
        choices: list[Any] = schema["choices"]
        return any(admits_null(c[0] if isinstance(c, tuple) else c) for c in choices)
    if kind == "json-or-python":
        return admits_null(schema["json_schema"])
    if kind in _WRAPPERS and "schema" in schema:
        return admits_null(schema["schema"])
    return False


class OpenApiJsonSchema(GenerateJsonSchema):
    """Every schema of the document is made with this generator."""

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        json_schema = super().default_schema(schema)
        if (
            "default" in json_schema
            and json_schema["default"] is None
            and not admits_null(schema["schema"])
        ):
            del json_schema["default"]
        return json_schema
