"""An asset's computed fields (SPEC §5/§6), kept in its row so lists read them for free.

`refresh(tx, asset_id)` recomputes them from the asset's thicknesses, its completed
inspections and its newest risk assessment. Every write that can change one of those inputs
calls it inside its own transaction, so the stored values are right after every commit.
"""

from __future__ import annotations

import datetime
from typing import Any

from reliatic_appliance.domain.corrosion import ThicknessReading, assess_corrosion
from reliatic_appliance.ports import TenantTx
from reliatic_appliance.services.events import emit


def _date(text: str | None) -> datetime.date | None:
    return None if text is None else datetime.date.fromisoformat(text)


def compute(tx: TenantTx, asset_id: str) -> dict[str, Any] | None:
    basis = tx.asset_metrics.asset_basis(asset_id)
    if basis is None:
        return None
    inspections = tx.asset_metrics.completed_inspections(asset_id)
    readings = [
        # A completed inspection always has its date (the schema requires it).
        ThicknessReading(
            datetime.date.fromisoformat(row["inspection_date"]), row["min_measured_thickness_mm"]
        )
        for row in inspections
        if row["min_measured_thickness_mm"] is not None
    ]
    last_inspection = _date(inspections[-1]["inspection_date"]) if inspections else None
    result = assess_corrosion(
        nominal_thickness_mm=basis["nominal_thickness_mm"],
        required_thickness_mm=basis["required_thickness_mm"],
        install_date=_date(basis["install_date"]),
        readings=readings,
        last_inspection_date=last_inspection,
    )
    return {
        "risk_ranking": tx.asset_metrics.newest_risk_ranking(asset_id),
        "last_inspection_date": _iso(result.last_inspection_date),
        "corrosion_rate_mm_per_year": result.corrosion_rate_mm_per_year,
        "remaining_life_years": result.remaining_life_years,
        "next_inspection_due": _iso(result.next_inspection_due),
    }


def _iso(value: datetime.date | None) -> str | None:
    return None if value is None else value.isoformat()


def refresh(
    tx: TenantTx,
    asset_id: str,
    *,
    actor: str | None,
    at: str,
    emit_event: bool = True,
) -> bool:
    """Recompute and store; True when a computed field changed.

    A change is a change of the asset as an integration sees it: `updated_at` moves (so an
    `updated_since` sync picks it up) and `asset.updated` is emitted with before and after,
    unless the caller emits its own event for the same write (`emit_event=False`).
    """
    metrics = compute(tx, asset_id)
    if metrics is None:
        return False
    before = tx.assets.get_asset(asset_id) if emit_event else None
    if not tx.asset_metrics.store_metrics(asset_id, metrics, updated_at=at):
        return False
    if emit_event:
        emit(
            tx,
            event_type="asset.updated",
            resource_type="asset",
            resource_id=asset_id,
            before=before,
            after=tx.assets.get_asset(asset_id),
            actor=actor,
            at=at,
        )
    return True
