"""A pydantic validation error as one `{"field", "message"}` entry per bad field (SPEC §3).

Shared by every input path (a request body, a query string, a CSV row), so the same bad value
is explained the same way wherever it arrives. Messages never echo the input back: it may be
huge, binary, or somebody's secret.
"""

from __future__ import annotations

from typing import Any

import pydantic

_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "is not a known field",
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
}


def field_errors(exc: pydantic.ValidationError, *, unknown: str) -> list[dict[str, Any]]:
    """One entry per error; `unknown` is the message for a field the model does not have."""
    details = []
    for error in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(part) for part in error["loc"]) or "body"
        kind = error["type"]
        if kind == "extra_forbidden":
            message = unknown
        elif kind == "json_invalid":
            message = "is not well-formed JSON: " + error.get("ctx", {}).get("error", "")
        else:
            message = _MESSAGES.get(kind, error["msg"]).removeprefix("Value error, ")
        details.append({"field": field, "message": message.rstrip(": ")})
    return details
