"""Every error code a client can get (SPEC §3) is documented where integrators look."""

from __future__ import annotations

from pathlib import Path

import pytest

from reliatic_appliance.api.openapi import build_document
from reliatic_appliance.app import OPERATIONS
from reliatic_appliance.errors import ERROR_CLASSES, ApiError

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.parametrize("error", [pytest.param(e, id=e.code) for e in ERROR_CLASSES])
def test_readme_lists_the_error_code_with_its_status(error: type[ApiError]) -> None:
    readme = " ".join(README.read_text(encoding="utf-8").split())
    assert f"`{error.code}` {error.status}" in readme


@pytest.mark.parametrize(
    ("status", "code"), [(414, "uri_too_long"), (431, "header_fields_too_large")]
)
def test_every_operation_documents_the_parser_refusals(status: int, code: str) -> None:
    """Any request can be too long before it is routed (api/protocol.py)."""
    doc = build_document(OPERATIONS)
    response = doc["components"]["responses"][f"Error{status}"]
    assert response["content"]["application/json"]["example"]["error"] == code
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            ref = operation["responses"][str(status)]["$ref"]
            assert ref == f"#/components/responses/Error{status}", (method, path)
