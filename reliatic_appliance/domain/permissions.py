"""Permissions of API keys (SPEC §4), as pure functions.

A key's effective permissions are computed once, at creation, and stored with it:
- `read_only` grants `<resource>:read` for every domain resource, `read_write` grants
  `<resource>:write`, and write includes read; events and alerts are read-only resources
  (SPEC §5: the server writes them, never a client), so they have no `:write` permission
  and every level grants their `:read`: a key lists exactly what it can do;
- domain scopes given at creation narrow the key to exactly those resources (within its
  level: a read-only key cannot be scoped to `assets:write`);
- administration permissions are never implied by a level: a key that can mint keys must
  not be handed out by accident, so they are granted only by listing them.
"""

from __future__ import annotations

from collections.abc import Iterable

WRITABLE_RESOURCES: tuple[str, ...] = (
    "assets",
    "inspections",
    "failure_modes",
    "actions",
    "risk_assessments",
    "mocs",
)
READ_ONLY_RESOURCES: tuple[str, ...] = ("alerts", "events")
DOMAIN_RESOURCES: tuple[str, ...] = WRITABLE_RESOURCES + READ_ONLY_RESOURCES
ADMIN_PERMISSIONS: tuple[str, ...] = (
    "api_keys:read",
    "api_keys:write",
    "webhooks:read",
    "webhooks:write",
    "audit:read",
)
LEVELS: tuple[str, ...] = ("read_only", "read_write")
DOMAIN_PERMISSIONS: tuple[str, ...] = tuple(
    f"{resource}:{access}"
    for resource in DOMAIN_RESOURCES
    for access in ("read", "write")
    if access == "read" or resource in WRITABLE_RESOURCES
)
ALL_PERMISSIONS: tuple[str, ...] = DOMAIN_PERMISSIONS + ADMIN_PERMISSIONS


class PermissionSpecError(ValueError):
    """A requested set of scopes that cannot be granted; `field` names the input."""

    def __init__(self, message: str, field: str = "permissions") -> None:
        super().__init__(message)
        self.field = field


def grants(held: Iterable[str], required: str) -> bool:
    """Does a holder of `held` have `required`? (`x:write` includes `x:read`.)"""
    held_set = held if isinstance(held, (set, frozenset)) else set(held)
    if required in held_set:
        return True
    resource, _, access = required.partition(":")
    return access == "read" and f"{resource}:write" in held_set


def effective_permissions(level: str, scopes: Iterable[str] = ()) -> list[str]:
    """The sorted permission list a key of `level` created with `scopes` holds."""
    if level not in LEVELS:
        raise PermissionSpecError(f"level must be one of {', '.join(LEVELS)}", "level")
    access = "write" if level == "read_write" else "read"
    requested = list(dict.fromkeys(scopes))
    unknown = [s for s in requested if s not in ALL_PERMISSIONS]
    if unknown:
        resource, _, _ = unknown[0].partition(":")
        if resource in READ_ONLY_RESOURCES:
            raise PermissionSpecError(
                f"{unknown[0]} does not exist: {resource} are read-only (use {resource}:read)"
            )
        raise PermissionSpecError(f"unknown permission: {unknown[0]}")
    domain = [s for s in requested if s in DOMAIN_PERMISSIONS]
    admin = [s for s in requested if s in ADMIN_PERMISSIONS]
    if level == "read_only":
        too_wide = [s for s in domain if s.endswith(":write")]
        if too_wide:
            raise PermissionSpecError(f"{too_wide[0]} exceeds the key's level read_only")
    granted = (
        set(domain)
        if domain
        else {f"{r}:{access}" for r in WRITABLE_RESOURCES}
        | {f"{r}:read" for r in READ_ONLY_RESOURCES}
    )
    granted.update(admin)
    # `x:write` already includes `x:read`; listing both would only confuse a reader.
    granted = {p for p in granted if not (p.endswith(":read") and grants(granted - {p}, p))}
    return sorted(granted)


def covers(held: Iterable[str], wanted: Iterable[str]) -> list[str]:
    """The permissions of `wanted` that `held` does not grant (empty: all covered)."""
    held_set = set(held)
    return [p for p in wanted if not grants(held_set, p)]
