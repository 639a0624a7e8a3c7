"""SPEC §4 levels and scopes, cell by cell: a key's permissions are exactly what it can do."""

from __future__ import annotations

import pytest

from reliatic_appliance.domain.permissions import (
    ALL_PERMISSIONS,
    PermissionSpecError,
    effective_permissions,
    grants,
)

WRITABLE = ["actions", "assets", "failure_modes", "inspections", "mocs", "risk_assessments"]


@pytest.mark.parametrize(
    ("level", "scopes", "expected"),
    [
        pytest.param(
            "read_write",
            [],
            sorted([f"{r}:write" for r in WRITABLE] + ["alerts:read", "events:read"]),
            id="read-write",
        ),
        pytest.param(
            "read_only",
            [],
            sorted([f"{r}:read" for r in WRITABLE] + ["alerts:read", "events:read"]),
            id="read-only",
        ),
        pytest.param("read_write", ["events:read"], ["events:read"], id="scoped-to-events"),
        pytest.param(
            "read_write",
            ["assets:write", "alerts:read", "webhooks:write"],
            ["alerts:read", "assets:write", "webhooks:write"],
            id="scoped-with-admin",
        ),
    ],
)
def test_effective_permissions(level: str, scopes: list[str], expected: list[str]) -> None:
    assert effective_permissions(level, scopes) == expected


@pytest.mark.parametrize("resource", ["events", "alerts"])
def test_read_only_resources_have_no_write_permission(resource: str) -> None:
    assert f"{resource}:write" not in ALL_PERMISSIONS
    assert f"{resource}:read" in ALL_PERMISSIONS
    with pytest.raises(PermissionSpecError) as refused:
        effective_permissions("read_write", [f"{resource}:write"])
    assert refused.value.field == "permissions"
    assert f"{resource}:write does not exist" in str(refused.value)
    assert f"use {resource}:read" in str(refused.value)


def test_every_permission_a_level_lists_is_one_that_exists() -> None:
    for level in ("read_only", "read_write"):
        held = effective_permissions(level)
        assert set(held) <= set(ALL_PERMISSIONS), level
        assert grants(held, "events:read") and grants(held, "alerts:read")
