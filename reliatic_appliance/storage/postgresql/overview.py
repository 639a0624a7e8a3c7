"""SQL behind the admin panel's Overview (SPEC §10) on PostgreSQL: `storage/overview.py`
ported (risk matrix counts, inspections due), each one statement."""

from __future__ import annotations

from reliatic_appliance.ports import Row
from reliatic_appliance.storage.postgresql.listing import Condition, Cursor


def newest_assessments(tenant_id: str) -> Condition:
    """The newest assessment of each asset of the tenant (asset_id, probability_of_failure,
    consequence_of_failure): "newest" as asset_metrics.newest_risk_ranking has it (latest
    assessment_date, then latest created, then id), so a cell's count and the asset's
    stored risk_ranking always agree. DISTINCT ON does in one pass what SQLite's
    correlated subquery does per assessment."""
    return Condition(
        "SELECT DISTINCT ON (ra.asset_id)"
        " ra.asset_id, ra.probability_of_failure, ra.consequence_of_failure"
        " FROM risk_assessments AS ra WHERE ra.tenant_id = %s"
        " ORDER BY ra.asset_id, ra.assessment_date DESC, ra.created_at DESC, ra.id DESC",
        (tenant_id,),
    )


class PgOverview:
    """PostgreSQL: the counts the Overview shows."""

    def __init__(self, cur: Cursor, tenant_id: str) -> None:
        self._cur = cur
        self._tenant_id = tenant_id

    def risk_cells(self) -> list[Row]:
        """One row per non-empty cell: probability, consequence and the count of assets whose
        newest assessment is in that cell (decommissioned assets left out)."""
        newest = newest_assessments(self._tenant_id)
        return self._cur.execute(
            "SELECT n.probability_of_failure AS probability,"
            " n.consequence_of_failure AS consequence, COUNT(*) AS assets"
            f" FROM ({newest.sql}) AS n JOIN assets AS a"
            " ON a.tenant_id = %s AND a.id = n.asset_id"
            " WHERE a.status != 'decommissioned'"
            " GROUP BY n.probability_of_failure, n.consequence_of_failure",
            (*newest.params, self._tenant_id),
        ).fetchall()

    def inspections_due(self, start: str, end: str, *, limit: int) -> tuple[list[Row], int]:
        """Assets (not decommissioned) whose next inspection is due between `start` and `end`
        (`YYYY-MM-DD`, inclusive), soonest first, then by tag as SQLite orders it."""
        where = (
            " FROM assets WHERE tenant_id = %s AND status != 'decommissioned'"
            " AND next_inspection_due >= %s AND next_inspection_due <= %s"
        )
        params = (self._tenant_id, start, end)
        rows = self._cur.execute(
            "SELECT id, tag_number, name, asset_type, unit, risk_ranking,"
            " last_inspection_date, next_inspection_due, remaining_life_years"
            + where
            + " ORDER BY next_inspection_due, tag_key LIMIT %s",
            (*params, limit),
        ).fetchall()
        found = self._cur.execute("SELECT COUNT(*) AS n" + where, params).fetchone()
        return rows, 0 if found is None else int(found["n"])
