"""SQL behind an asset's computed fields on PostgreSQL: `storage/asset_metrics.py` ported."""

from __future__ import annotations

from reliatic_appliance.ports import Row
from reliatic_appliance.storage.postgresql.listing import Cursor


class PgAssetMetrics:
    """PostgreSQL: the inputs and stored values of an asset's computed fields (SPEC §6)."""

    def __init__(self, cur: Cursor, tenant_id: str) -> None:
        self._cur = cur
        self._tenant_id = tenant_id

    def asset_basis(self, asset_id: str) -> Row | None:
        return self._cur.execute(
            "SELECT nominal_thickness_mm, required_thickness_mm, install_date FROM assets"
            " WHERE tenant_id = %s AND id = %s",
            (self._tenant_id, asset_id),
        ).fetchone()

    def completed_inspections(self, asset_id: str) -> list[Row]:
        """Completed inspections of the asset, oldest first (date, reading or null)."""
        return self._cur.execute(
            "SELECT inspection_date, min_measured_thickness_mm FROM inspections"
            " WHERE tenant_id = %s AND asset_id = %s AND status = 'completed'"
            " ORDER BY inspection_date, id",
            (self._tenant_id, asset_id),
        ).fetchall()

    def newest_risk_ranking(self, asset_id: str) -> str | None:
        row = self._cur.execute(
            "SELECT risk_ranking FROM risk_assessments WHERE tenant_id = %s AND asset_id = %s"
            " ORDER BY assessment_date DESC, created_at DESC, id DESC LIMIT 1",
            (self._tenant_id, asset_id),
        ).fetchone()
        return None if row is None else str(row["risk_ranking"])

    def store_metrics(self, asset_id: str, metrics: Row, *, updated_at: str) -> bool:
        """Write the computed columns (and `updated_at`); True when any of them changed."""
        # The new values are compared as the columns' types compare them: the dates come
        # as 'YYYY-MM-DD' text, so they are cast before IS DISTINCT FROM.
        self._cur.execute(
            "UPDATE assets SET updated_at = %(updated_at)s, risk_ranking = %(risk_ranking)s,"
            " last_inspection_date = %(last_inspection_date)s::date,"
            " corrosion_rate_mm_per_year = %(corrosion_rate_mm_per_year)s::double precision,"
            " remaining_life_years = %(remaining_life_years)s::double precision,"
            " next_inspection_due = %(next_inspection_due)s::date"
            " WHERE tenant_id = %(tenant_id)s AND id = %(id)s AND ("
            "risk_ranking IS DISTINCT FROM %(risk_ranking)s::text"
            " OR last_inspection_date IS DISTINCT FROM %(last_inspection_date)s::date"
            " OR corrosion_rate_mm_per_year IS DISTINCT FROM"
            " %(corrosion_rate_mm_per_year)s::double precision"
            " OR remaining_life_years IS DISTINCT FROM %(remaining_life_years)s::double precision"
            " OR next_inspection_due IS DISTINCT FROM %(next_inspection_due)s::date)",
            {**metrics, "id": asset_id, "updated_at": updated_at, "tenant_id": self._tenant_id},
        )
        return self._cur.rowcount > 0
