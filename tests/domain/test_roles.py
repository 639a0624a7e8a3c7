"""SPEC §4 and §10: what an admin-panel session may do, by the user's role, cell by cell."""

from __future__ import annotations

import pytest

from reliatic_appliance.domain.permissions import ALL_PERMISSIONS, grants, role_permissions

WRITABLE = ["actions", "assets", "failure_modes", "inspections", "mocs", "risk_assessments"]
READ_ONLY = ["alerts", "events"]
ADMINISTRATION = [
    "api_keys:read",
    "api_keys:write",
    "webhooks:read",
    "webhooks:write",
    "audit:read",
]


@pytest.mark.parametrize(
    ("role", "permission", "granted"),
    [
        *(
            pytest.param("admin", f"{r}:{a}", True, id=f"admin-{r}-{a}")
            for r in WRITABLE
            for a in ("read", "write")
        ),
        *(pytest.param("admin", f"{r}:read", True, id=f"admin-{r}-read") for r in READ_ONLY),
        *(pytest.param("admin", p, True, id=f"admin-{p}") for p in ADMINISTRATION),
        *(pytest.param("engineer", f"{r}:read", True, id=f"engineer-{r}-read") for r in WRITABLE),
        *(pytest.param("engineer", f"{r}:read", True, id=f"engineer-{r}-read") for r in READ_ONLY),
        *(
            pytest.param("engineer", f"{r}:write", False, id=f"engineer-{r}-write")
            for r in WRITABLE
        ),
        *(pytest.param("engineer", p, False, id=f"engineer-{p}") for p in ADMINISTRATION),
    ],
)
def test_role_grants(role: str, permission: str, granted: bool) -> None:
    assert grants(role_permissions(role), permission) is granted


def test_an_admin_session_holds_every_permission_there_is() -> None:
    held = role_permissions("admin")
    assert all(grants(held, p) for p in ALL_PERMISSIONS)


def test_an_unknown_role_is_refused() -> None:
    with pytest.raises(ValueError, match="role must be one of admin, engineer"):
        role_permissions("owner")
