"""Audit log models (SPEC §5 Audit log): entries as `GET /api/v1/audit-log` returns them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from reliatic_appliance.ports import AUDIT_SORTABLE
from reliatic_appliance.schemas.common import OneOf, PageQuery, ShortText, Timestamp, sort_values

AUDIT_SORT_FIELDS: tuple[str, ...] = AUDIT_SORTABLE
AuditSort = Annotated[str, OneOf(sort_values(AUDIT_SORT_FIELDS))]
# `<thing>.<verb>`, e.g. `api_key.created`, `webhook.disabled`.
ActionName = Annotated[str, StringConstraints(max_length=64, pattern=r"^[a-z_]+\.[a-z_]+$")]

Sha256Hex = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9a-f]{64}$"),
    Field(examples=["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"]),
]


class AuditEntry(BaseModel):
    id: str
    created_at: Timestamp = Field(description="When the act happened.")
    updated_at: Timestamp = Field(description="The same as created_at: entries never change.")
    actor: str = Field(
        description="Who: an API key id, a user id, `cli:<login>` or `scheduler`.",
        examples=["key_01J8Z3N4V4W6Q1S0H2Y5C7D9EF"],
    )
    address: str | None = Field(description="The client address, or null off the network.")
    action: str = Field(examples=["api_key.created"])
    target_type: str | None = Field(examples=["api_key"])
    target_id: str | None
    changes: dict[str, Any] = Field(description="What changed; never a secret.")
    chain: Literal["control", "tenant"] = Field(
        description=(
            "Which hash chain holds the entry: `control` for acts on keys, users, sessions and"
            " the tenant itself, `tenant` for acts on the tenant's own data (webhooks)."
        )
    )
    seq: int = Field(description="The entry's position in its chain, from 1.")
    prev_hash: Sha256Hex = Field(description="SHA-256 of the entry before it in its chain.")
    hash: Sha256Hex = Field(description="SHA-256 of this entry (canonical JSON).")


class AuditListQuery(PageQuery):
    actor: ShortText | None = Field(None, description="Only acts by this actor.")
    action: ActionName | None = Field(None, description="Only this kind of act.")
    sort: AuditSort | None = Field(
        None, description="`created_at` (the default, oldest first) or `-created_at`."
    )
