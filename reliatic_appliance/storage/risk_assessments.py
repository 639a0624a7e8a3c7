"""SQL for risk assessments (RBI). Every value is a bound parameter; only vetted columns spliced."""

from __future__ import annotations

import apsw

from reliatic_appliance.ports import RISK_ASSESSMENT_SORTABLE, RiskAssessmentFilter, Row
from reliatic_appliance.storage import listing

# Columns a client writes, in table order; `asset_id` is set once, at insert.
WRITABLE_COLUMNS: tuple[str, ...] = (
    "probability_of_failure",
    "consequence_of_failure",
    "assessed_by",
    "assessment_date",
    "damage_mechanisms",
    "notes",
)
# Stored so lists can filter and sort on them (SPEC §6), recomputed on every write.
COMPUTED_COLUMNS: tuple[str, ...] = ("risk_score", "risk_ranking")
SORTABLE_COLUMNS: frozenset[str] = frozenset(RISK_ASSESSMENT_SORTABLE)
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


class SqliteRiskAssessments:
    """SQLite: RBI risk assessments of one tenant (SPEC §5)."""

    def __init__(self, conn: apsw.Connection) -> None:
        self._conn = conn

    def get_risk_assessment(self, assessment_id: str) -> Row | None:
        return self._conn.execute(_SELECT + " WHERE id = ?", (assessment_id,)).fetchone()

    def list_risk_assessments(
        self, flt: RiskAssessmentFilter, *, sort: str | None, limit: int, offset: int
    ) -> tuple[list[Row], int]:
        return listing.fetch_page(
            self._conn,
            select=_SELECT,
            table="risk_assessments",
            conditions=_conditions(flt),
            sort=sort,
            sortable=SORTABLE_COLUMNS,
            limit=limit,
            offset=offset,
        )

    def insert_risk_assessment(self, row: Row) -> None:
        columns = (
            "id",
            "asset_id",
            *WRITABLE_COLUMNS,
            *COMPUTED_COLUMNS,
            "created_at",
            "updated_at",
        )
        self._conn.execute(
            f"INSERT INTO risk_assessments ({', '.join(columns)})"
            f" VALUES ({', '.join('?' * len(columns))})",
            [row.get(c) for c in columns],
        )

    def update_risk_assessment(self, assessment_id: str, changes: Row, updated_at: str) -> None:
        columns = [c for c in WRITABLE_COLUMNS + COMPUTED_COLUMNS if c in changes]
        assignments = "".join(f"{c} = ?, " for c in columns)
        self._conn.execute(
            f"UPDATE risk_assessments SET {assignments}updated_at = ? WHERE id = ?",
            [*(changes[c] for c in columns), updated_at, assessment_id],
        )
