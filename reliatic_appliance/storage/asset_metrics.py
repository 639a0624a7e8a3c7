"""SQL behind an asset's computed fields: its readings, newest assessment, and the update."""

from __future__ import annotations

import apsw

from reliatic_appliance.ports import Row


class SqliteAssetMetrics:
    """SQLite: the inputs and stored values of an asset's computed fields (SPEC §6)."""

    def __init__(self, conn: apsw.Connection) -> None:
        self._conn = conn

    def asset_basis(self, asset_id: str) -> Row | None:
        return self._conn.execute(
            "SELECT nominal_thickness_mm, required_thickness_mm, install_date FROM assets"
            " WHERE id = ?",
            (asset_id,),
        ).fetchone()

    def completed_inspections(self, asset_id: str) -> list[Row]:
        """Completed inspections of the asset, oldest first (date, reading or null)."""
        return list(
            self._conn.execute(
                "SELECT inspection_date, min_measured_thickness_mm FROM inspections"
                " WHERE asset_id = ? AND status = 'completed' ORDER BY inspection_date, id",
                (asset_id,),
            )
        )

    def newest_risk_ranking(self, asset_id: str) -> str | None:
        row = self._conn.execute(
            "SELECT risk_ranking FROM risk_assessments WHERE asset_id = ?"
            " ORDER BY assessment_date DESC, created_at DESC, id DESC LIMIT 1",
            (asset_id,),
        ).fetchone()
        return None if row is None else str(row["risk_ranking"])

    def store_metrics(self, asset_id: str, metrics: Row, *, updated_at: str) -> bool:
        """Write the computed columns (and `updated_at`); True when any of them changed."""
        self._conn.execute(
            "UPDATE assets SET updated_at = :updated_at, risk_ranking = :risk_ranking,"
            " last_inspection_date = :last_inspection_date,"
            " corrosion_rate_mm_per_year = :corrosion_rate_mm_per_year,"
            " remaining_life_years = :remaining_life_years,"
            " next_inspection_due = :next_inspection_due"
            " WHERE id = :id AND (risk_ranking IS NOT :risk_ranking"
            " OR last_inspection_date IS NOT :last_inspection_date"
            " OR corrosion_rate_mm_per_year IS NOT :corrosion_rate_mm_per_year"
            " OR remaining_life_years IS NOT :remaining_life_years"
            " OR next_inspection_due IS NOT :next_inspection_due)",
            {**metrics, "id": asset_id, "updated_at": updated_at},
        )
        return self._conn.changes() > 0
