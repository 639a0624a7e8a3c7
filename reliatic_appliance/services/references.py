"""Foreign keys in request bodies must name a row of the same tenant (SPEC §5).

A reference to a row that is not in this tenant's file — missing, or another tenant's — is
a 400 `validation_error` naming the field, raised before anything is written.
"""

from __future__ import annotations

from typing import Any

from reliatic_appliance.errors import ValidationError
from reliatic_appliance.ports import TenantTx

_NOUN = {
    "assets": "asset",
    "inspections": "inspection",
    "failure_modes": "failure mode",
    "actions": "action",
    "risk_assessments": "risk assessment",
    "mocs": "MOC",
}


def require(tx: TenantTx, table: str, row_id: str | None, field: str) -> None:
    """Raise a validation error naming `field` unless `row_id` is None or exists."""
    if row_id is not None and not tx.references.exists(table, row_id):
        raise ValidationError.field(field, f"no {_NOUN[table]} with this id exists")


def check_same_asset(before: dict[str, Any], changes: dict[str, Any], noun: str) -> None:
    """A row stays with its asset: `asset_id` may be sent on update only unchanged.

    Moving a failure mode or an assessment would silently rewrite another asset's history.
    """
    if "asset_id" in changes and changes["asset_id"] != before["asset_id"]:
        raise ValidationError.field(
            "asset_id", f"cannot be changed; create a new {noun} for the other asset"
        )
