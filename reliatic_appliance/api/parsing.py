"""Turning a request's query string and body into validated models, or a 400/413/415.

Every field error becomes one `details` entry naming the field (SPEC §3). Messages never
echo the input back: it may be huge, binary, or somebody's secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import pydantic
from aiohttp import web
from multidict import MultiMapping

from reliatic_appliance.errors import PayloadTooLarge, UnsupportedMediaType, ValidationError
from reliatic_appliance.services.field_errors import field_errors as _details

M = TypeVar("M", bound=pydantic.BaseModel)


def _summary(what: str, details: list[dict[str, Any]]) -> str:
    fields = ", ".join(f"{d['field']} {d['message']}" for d in details[:5])
    more = f" (and {len(details) - 5} more)" if len(details) > 5 else ""
    return f"The {what} is not valid: {fields}{more}."


def parse_query(model: type[M] | None, query: MultiMapping[str]) -> M | None:
    """Validate the query string; unknown or repeated parameters are errors too."""
    values: dict[str, str] = {}
    repeated = []
    for name, value in query.items():
        if name in values and name not in repeated:
            repeated.append(name)
        values[name] = value
    if repeated:
        details = [{"field": n, "message": "is given more than once"} for n in repeated]
        raise ValidationError(_summary("query string", details), details)
    if model is None:
        if values:
            details = [{"field": n, "message": "is not a known parameter"} for n in values]
            raise ValidationError(_summary("query string", details), details)
        return None
    try:
        return model.model_validate(values)
    except pydantic.ValidationError as exc:
        details = _details(exc, unknown="is not a known parameter")
        raise ValidationError(_summary("query string", details), details) from None


def _check_content_type(request: web.Request) -> None:
    if request.content_type != "application/json":
        raise UnsupportedMediaType(
            f"Content-Type must be application/json, not '{request.content_type}'."
        )
    charset = request.charset
    if charset is not None and charset.lower() not in ("utf-8", "utf8"):
        raise UnsupportedMediaType("JSON bodies must be UTF-8 encoded.")


async def read_body(request: web.Request, max_bytes: int) -> bytes:
    """The raw body, refusing anything over `max_bytes` before reading it where possible."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise PayloadTooLarge(f"The request body must not exceed {max_bytes} bytes.")
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise PayloadTooLarge(f"The request body must not exceed {max_bytes} bytes.") from None


async def parse_body(model: type[M], request: web.Request, max_bytes: int) -> M:
    raw = await read_body(request, max_bytes)
    _check_content_type(request)
    if not raw.strip():
        details = [{"field": "body", "message": "is required (a JSON object)"}]
        raise ValidationError("The request body is empty; send a JSON object.", details)
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        details = [{"field": "body", "message": "is not valid UTF-8"}]
        raise ValidationError("The request body is not valid UTF-8.", details) from None
    try:
        return model.model_validate_json(raw)
    except pydantic.ValidationError as exc:
        details = _details(exc, unknown="is not a known field")
        raise ValidationError(_summary("request body", details), details) from None


def fields_sent(model: pydantic.BaseModel) -> dict[str, Any]:
    """Only the fields the client actually sent (partial updates, SPEC §5)."""
    return {name: getattr(model, name) for name in model.model_fields_set}


def as_dict(model: pydantic.BaseModel) -> Mapping[str, Any]:
    return {name: getattr(model, name) for name in type(model).model_fields}
