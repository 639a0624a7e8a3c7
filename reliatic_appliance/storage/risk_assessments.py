"""SQL for risk assessments (RBI). Every value is a bound parameter; only vetted columns spliced."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import apsw

from reliatic_appliance.storage import listing

Row = dict[str, Any]

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
SORTABLE_COLUMNS: frozenset[str] = frozenset(
    {"created_at", "updated_at", "assessment_date", "risk_score"}
)
# Response field order: the matrix inputs, what they compute, then the rest.
_SELECT = (
    "SELECT id, asset_id, probability_of_failure, consequence_of_failure, "
    + ", ".join(COMPUTED_COLUMNS)
    + ", assessed_by, assessment_date, damage_mechanisms, notes, created_at, updated_at"
    " FROM risk_assessments"
)


@dataclass(frozen=True)
class RiskAssessmentFilter:
    asset_id: str | None = None
    risk_ranking: str | None = None
    updated_since: str | None = None

    def conditions(self) -> list[listing.Condition | None]:
        return [
            listing.equals("asset_id", self.asset_id),
            listing.equals("risk_ranking", self.risk_ranking),
            listing.at_least("updated_at", self.updated_since),
        ]


def get_risk_assessment(conn: apsw.Connection, assessment_id: str) -> Row | None:
    return conn.execute(_SELECT + " WHERE id = ?", (assessment_id,)).fetchone()


def list_risk_assessments(
    conn: apsw.Connection, flt: RiskAssessmentFilter, *, sort: str | None, limit: int, offset: int
) -> tuple[list[Row], int]:
    return listing.fetch_page(
        conn,
        select=_SELECT,
        table="risk_assessments",
        conditions=flt.conditions(),
        sort=sort,
        sortable=SORTABLE_COLUMNS,
        limit=limit,
        offset=offset,
    )


def insert_risk_assessment(conn: apsw.Connection, row: Row) -> None:
    columns = ("id", "asset_id", *WRITABLE_COLUMNS, *COMPUTED_COLUMNS, "created_at", "updated_at")
    conn.execute(
        f"INSERT INTO risk_assessments ({', '.join(columns)})"
        f" VALUES ({', '.join('?' * len(columns))})",
        [row.get(c) for c in columns],
    )


def update_risk_assessment(
    conn: apsw.Connection, assessment_id: str, changes: Row, updated_at: str
) -> None:
    columns = [c for c in WRITABLE_COLUMNS + COMPUTED_COLUMNS if c in changes]
    assignments = "".join(f"{c} = ?, " for c in columns)
    conn.execute(
        f"UPDATE risk_assessments SET {assignments}updated_at = ? WHERE id = ?",
        [*(changes[c] for c in columns), updated_at, assessment_id],
    )
