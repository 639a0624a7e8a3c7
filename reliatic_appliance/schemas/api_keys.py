"""API-key management models (SPEC §4)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from reliatic_appliance.domain.permissions import KeyLevel, Permission
from reliatic_appliance.schemas.common import (
    STRICT_INPUT,
    IsoDateTime,
    Name,
    OneOf,
    PageOnlyQuery,
    Timestamp,
)

# Text, not `Permission`: `services.api_keys.create_key` takes `list[str]`, and a list is
# invariant, so `list[Permission]` would not type-check there. Same values, same errors.
PermissionText = Annotated[str, OneOf(tuple(p.value for p in Permission))]


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(
        **STRICT_INPUT,
        json_schema_extra={
            "examples": [
                {"name": "CMMS sync", "level": "read_write", "permissions": ["assets:write"]}
            ]
        },
    )

    name: Name
    level: KeyLevel
    permissions: Annotated[list[PermissionText], Field(max_length=len(Permission))] = Field(
        default_factory=list,
        description=(
            "Optional scopes. Domain scopes narrow the key to those resources (within its"
            " level); administration permissions (api_keys:*, webhooks:*, audit:read) are"
            " granted only when listed."
        ),
    )
    expires_at: IsoDateTime | None = Field(
        None, description="Optional expiry (ISO 8601 with a time zone)."
    )
    rate_limit_per_minute: int | None = Field(None, ge=1, le=1_000_000)


class ApiKey(BaseModel):
    """A key as listed: metadata and its first 12 characters, never the key."""

    id: str
    name: str
    prefix: str = Field(description="The first 12 characters of the key.")
    level: KeyLevel
    permissions: list[str]
    rate_limit_per_minute: int | None
    created_at: Timestamp
    expires_at: Timestamp | None
    last_used_at: Timestamp | None
    revoked_at: Timestamp | None


class ApiKeyCreated(ApiKey):
    key: str = Field(description="The full key. Shown once; store it now.")


class ApiKeyListQuery(PageOnlyQuery):
    pass
