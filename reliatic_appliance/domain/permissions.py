"""Permissions of API keys (SPEC §4), as pure functions.

A key's effective permissions are computed once, at creation, and stored with it:
- `read_only` grants `<resource>:read` for every domain resource, `read_write` grants
  `<resource>:write`, and write includes read;
- domain scopes given at creation narrow the key to exactly those resources (within its
  level: a read-only key cannot be scoped to `assets:write`);
- administration permissions are never implied by a level: a key that can mint keys must
  not be handed out by accident, so they are granted only by listing them.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

WRITABLE_RESOURCES: tuple[str, ...] = (
    "assets",
    "inspections",
    "failure_modes",
    "actions",
    "risk_assessments",
    "mocs",
)
# Read-only resources: no `:write` permission exists for them, so no key lists one.
READ_ONLY_RESOURCES: tuple[str, ...] = ("alerts", "events")
DOMAIN_RESOURCES: tuple[str, ...] = WRITABLE_RESOURCES + READ_ONLY_RESOURCES


class KeyLevel(StrEnum):
    """An API key's `level`: `read_only` grants read, `read_write` read and write, on every
    domain resource; administration permissions are granted only by name (SPEC §4)."""

    READ_ONLY = "read_only"
    READ_WRITE = "read_write"


# In DOMAIN_RESOURCES order, read before write, then administration: the order of the tuples
# below and of OpenAPI's list; tests/domain/test_closed_sets.py checks it.
class Permission(StrEnum):
    """A permission an API key can hold: read or write for each domain resource, then the
    administration permissions (SPEC §4)."""

    ASSETS_READ = "assets:read"
    ASSETS_WRITE = "assets:write"
    INSPECTIONS_READ = "inspections:read"
    INSPECTIONS_WRITE = "inspections:write"
    FAILURE_MODES_READ = "failure_modes:read"
    FAILURE_MODES_WRITE = "failure_modes:write"
    ACTIONS_READ = "actions:read"
    ACTIONS_WRITE = "actions:write"
    RISK_ASSESSMENTS_READ = "risk_assessments:read"
    RISK_ASSESSMENTS_WRITE = "risk_assessments:write"
    MOCS_READ = "mocs:read"
    MOCS_WRITE = "mocs:write"
    ALERTS_READ = "alerts:read"
    EVENTS_READ = "events:read"
    # Administration: never implied by a level (module doc).
    API_KEYS_READ = "api_keys:read"
    API_KEYS_WRITE = "api_keys:write"
    WEBHOOKS_READ = "webhooks:read"
    WEBHOOKS_WRITE = "webhooks:write"
    AUDIT_READ = "audit:read"
    METRICS_READ = "metrics:read"  # GET /metrics from an address not allowed to scrape (§3)


# The tuples came first; kept, derived, for code that iterates plain sequences.
LEVELS: tuple[KeyLevel, ...] = tuple(KeyLevel)
ALL_PERMISSIONS: tuple[Permission, ...] = tuple(Permission)
DOMAIN_PERMISSIONS: tuple[Permission, ...] = tuple(
    p for p in Permission if p.partition(":")[0] in DOMAIN_RESOURCES
)
ADMIN_PERMISSIONS: tuple[Permission, ...] = tuple(
    p for p in Permission if p not in DOMAIN_PERMISSIONS
)


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
    access = "write" if level == KeyLevel.READ_WRITE else "read"
    # Plain text out, whether the scopes came as `Permission` members or as text.
    requested = [str(s) for s in dict.fromkeys(scopes)]
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
    if level == KeyLevel.READ_ONLY:
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
