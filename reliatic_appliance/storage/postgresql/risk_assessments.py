"""PostgreSQL: risk assessments (RBI, SPEC §5), the port of `storage/risk_assessments.py`.

Every value is a bound parameter; only the vetted column names below are spliced.
"""

from __future__ import annotations

from reliatic_appliance.ports import RiskAssessmentFilter, Row
from reliatic_appliance.storage.postgresql import listing
from reliatic_appliance.storage.postgresql.listing import Cursor
from reliatic_appliance.storage.postgresql.rows import insert_row, update_row
from reliatic_appliance.storage.risk_assessments import (
    COMPUTED_COLUMNS,
    SORTABLE_COLUMNS,
    WRITABLE_COLUMNS,
)

# The column lists are SQLite's (one source of truth for what a write may touch).
_INSERT_COLUMNS: tuple[str, ...] = (
    "id",
    "asset_id",
    *WRITABLE_COLUMNS,
    *COMPUTED_COLUMNS,
    "created_at",
    "updated_at",
)
# Response field order: the matrix inputs, what they compute, then the rest.
_SELECT = (
    "SELECT id, asset_id, probability_of_failure, consequence_of_failure, "
    + ", ".join(COMPUTED_COLUMNS)
    + ", assessed_by, assessment_date, damage_mechanisms, notes, created_at, updated_at"
    " FROM risk_assessments"
)


def _conditions(flt: RiskAssessmentFilter) -> list[listing.Condition | None]:
    return [
        listing.equals("asset_id", flt.asset_id),
        listing.equals("risk_ranking", flt.risk_ranking),
        listing.at_least("updated_at", flt.updated_since),
    ]


class PgRiskAssessments:
    """PostgreSQL: RBI risk assessments of one tenant (SPEC §5)."""

    def __init__(self, cur: Cursor, tenant_id: str) -> None:
        self._cur = cur
        self._tenant_id = tenant_id

    def get_risk_assessment(self, assessment_id: str) -> Row | None:
        return self._cur.execute(
            _SELECT + " WHERE tenant_id = %s AND id = %s", (self._tenant_id, assessment_id)
        ).fetchone()

    def list_risk_assessments(
        self, flt: RiskAssessmentFilter, *, sort: str | None, limit: int, offset: int
    ) -> tuple[list[Row], int]:
        return listing.fetch_page(
            self._cur,
            select=_SELECT,
            table="risk_assessments",
            tenant_id=self._tenant_id,
            conditions=_conditions(flt),
            sort=sort,
            sortable=SORTABLE_COLUMNS,
            limit=limit,
            offset=offset,
        )

    def insert_risk_assessment(self, row: Row) -> None:
        insert_row(self._cur, "risk_assessments", self._tenant_id, _INSERT_COLUMNS, row)

    def update_risk_assessment(self, assessment_id: str, changes: Row, updated_at: str) -> None:
        update_row(
            self._cur,
            "risk_assessments",
            self._tenant_id,
            assessment_id,
            WRITABLE_COLUMNS + COMPUTED_COLUMNS,
            changes,
            updated_at,
        )
