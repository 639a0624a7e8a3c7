"""SQL behind the admin panel's Overview (SPEC §10): the risk matrix counts, inspections due."""

from __future__ import annotations

import apsw

from reliatic_appliance.ports import Row
from reliatic_appliance.storage.sqlite import scalar

# The newest assessment of each asset: "newest" as asset_metrics.newest_risk_ranking has it
# (latest assessment_date, then latest created, then id), so a cell's count and the asset's
# stored risk_ranking always agree.
NEWEST_ASSESSMENTS = (
    "SELECT ra.asset_id, ra.probability_of_failure, ra.consequence_of_failure"
    " FROM risk_assessments AS ra WHERE ra.id = ("
    "SELECT r2.id FROM risk_assessments AS r2 WHERE r2.asset_id = ra.asset_id"
    " ORDER BY r2.assessment_date DESC, r2.created_at DESC, r2.id DESC LIMIT 1)"
)


class SqliteOverview:
    """SQLite: the counts the Overview shows, each one statement."""

    def __init__(self, conn: apsw.Connection) -> None:
        self._conn = conn

    def risk_cells(self) -> list[Row]:
        """One row per non-empty cell: probability, consequence and the count of assets whose
        newest assessment is in that cell (decommissioned assets left out: nothing to manage)."""
        return list(
            self._conn.execute(
                "SELECT n.probability_of_failure AS probability,"
                " n.consequence_of_failure AS consequence, COUNT(*) AS assets"
                f" FROM ({NEWEST_ASSESSMENTS}) AS n JOIN assets AS a ON a.id = n.asset_id"
                " WHERE a.status != 'decommissioned'"
                " GROUP BY n.probability_of_failure, n.consequence_of_failure"
            )
        )

    def inspections_due(self, start: str, end: str, *, limit: int) -> tuple[list[Row], int]:
        """Assets (not decommissioned) whose next inspection is due on or before `end`
        (`YYYY-MM-DD`), soonest first, including any already past due since `start` is
        only the lower bound of "due soon"; callers pass the earliest date they show."""
        where = (
            " FROM assets WHERE status != 'decommissioned'"
            " AND next_inspection_due >= ? AND next_inspection_due <= ?"
        )
        rows = list(
            self._conn.execute(
                "SELECT id, tag_number, name, asset_type, unit, risk_ranking,"
                " last_inspection_date, next_inspection_due, remaining_life_years"
                + where
                + " ORDER BY next_inspection_due, tag_number LIMIT ?",
                (start, end, limit),
            )
        )
        total = int(scalar(self._conn, "SELECT COUNT(*)" + where, (start, end)))
        return rows, total
