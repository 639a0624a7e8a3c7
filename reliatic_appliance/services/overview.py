"""What a reliability engineer looks at first (SPEC §10 Overview): the risk matrix counts,
overdue actions by escalation level, and inspections due soon. Reads only."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from reliatic_appliance.domain.risk_matrix import RiskRanking, risk_ranking
from reliatic_appliance.domain.sla import escalation_level
from reliatic_appliance.ports import ActionFilter, TenantDb, TenantTx
from reliatic_appliance.services.actions import list_actions
from reliatic_appliance.services.paging import PageRequest

Row = dict[str, Any]
# How far ahead "inspections due" looks (SPEC §10: the next 90 days).
DUE_WINDOW_DAYS = 90
# Rows a section of the Overview lists before it says "and N more".
SECTION_ROWS = 25


@dataclass(frozen=True)
class MatrixCell:
    probability: int
    consequence: int
    ranking: RiskRanking
    assets: int


@dataclass(frozen=True)
class InspectionsDue:
    rows: list[Row]
    total: int
    start: datetime.date
    end: datetime.date


def _matrix(counts: dict[tuple[int, int], int]) -> list[list[MatrixCell]]:
    """Rows P 5..1 (top to bottom), columns C 1..5: SPEC §6 as printed."""
    return [
        [MatrixCell(p, c, risk_ranking(p, c), counts.get((p, c), 0)) for c in range(1, 6)]
        for p in range(5, 0, -1)
    ]


async def risk_matrix(db: TenantDb) -> list[list[MatrixCell]]:
    rows = await db.read(lambda tx: tx.overview.risk_cells())
    return _matrix({(r["probability"], r["consequence"]): r["assets"] for r in rows})


async def inspections_due(
    db: TenantDb, *, today: datetime.date, days: int = DUE_WINDOW_DAYS
) -> InspectionsDue:
    """Assets whose next inspection falls within `days` from `today`. Overdue ones (a due
    date already past) are the Overview's most urgent: they are listed first, with no
    lower bound."""
    end = today + datetime.timedelta(days=days)

    def read(tx: TenantTx) -> tuple[list[Row], int]:
        # date.min (0001-01-01), not "0000-01-01": PostgreSQL's dates have no year 0.
        start = datetime.date.min.isoformat()
        return tx.overview.inspections_due(start, end.isoformat(), limit=SECTION_ROWS)

    rows, total = await db.read(read)
    return InspectionsDue(rows=rows, total=total, start=today, end=end)


async def overdue_by_level(
    db: TenantDb, *, now: datetime.datetime, levels_days: Sequence[int]
) -> tuple[dict[int, list[Row]], int]:
    """Open actions past their due date, grouped by SLA escalation level (highest first),
    and how many there are in all (domain/sla.py: the level each has reached today)."""
    page = await list_actions(
        db,
        ActionFilter(overdue=True),
        "due_date",
        PageRequest(page=1, per_page=SECTION_ROWS),
        now=now,
    )
    today = now.date()
    groups: dict[int, list[Row]] = {}
    for action in page.items:
        due = datetime.date.fromisoformat(action["due_date"])
        level = escalation_level(due, today, levels_days)
        action = {**action, "days_overdue": (today - due).days}
        groups.setdefault(level, []).append(action)
    ordered = {level: groups[level] for level in sorted(groups, reverse=True)}
    return ordered, page.total
