"""SQL for inspections. Every value is a bound parameter; only vetted column names are spliced."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import apsw

from reliatic_appliance.storage import listing
from reliatic_appliance.storage.sqlite import scalar

Row = dict[str, Any]

# Insertable/updatable columns, in table order. Column names below come only from here
# or from the sort whitelist, never from a request. `asset_id` is written once, at insert.
WRITABLE_COLUMNS: tuple[str, ...] = (
    "inspection_type",
    "inspection_date",
    "inspector_name",
    "coverage_percent",
    "status",
    "findings",
    "min_measured_thickness_mm",
    "effectiveness",
)
SORTABLE_COLUMNS: frozenset[str] = frozenset(
    {
        "created_at",
        "updated_at",
        "inspection_date",
        "coverage_percent",
        "min_measured_thickness_mm",
    }
)
_SELECT = (
    "SELECT id, asset_id, "
    + ", ".join(WRITABLE_COLUMNS)
    + ", created_at, updated_at FROM inspections"
)


@dataclass(frozen=True)
class InspectionFilter:
    asset_id: str | None = None
    inspection_type: str | None = None
    status: str | None = None
    # Inclusive bounds on inspection_date, `YYYY-MM-DD` (text order is date order).
    date_from: str | None = None
    date_to: str | None = None
    updated_since: str | None = None

    def conditions(self) -> list[listing.Condition | None]:
        return [
            listing.equals("asset_id", self.asset_id),
            listing.equals("inspection_type", self.inspection_type),
            listing.equals("status", self.status),
            listing.at_least("inspection_date", self.date_from),
            listing.at_most("inspection_date", self.date_to),
            listing.at_least("updated_at", self.updated_since),
        ]


def get_inspection(conn: apsw.Connection, inspection_id: str) -> Row | None:
    return conn.execute(_SELECT + " WHERE id = ?", (inspection_id,)).fetchone()


def list_inspections(
    conn: apsw.Connection, flt: InspectionFilter, *, sort: str | None, limit: int, offset: int
) -> tuple[list[Row], int]:
    return listing.fetch_page(
        conn,
        select=_SELECT,
        table="inspections",
        conditions=flt.conditions(),
        sort=sort,
        sortable=SORTABLE_COLUMNS,
        limit=limit,
        offset=offset,
    )


def insert_inspection(conn: apsw.Connection, inspection: Row) -> None:
    columns = ("id", "asset_id", *WRITABLE_COLUMNS, "created_at", "updated_at")
    conn.execute(
        f"INSERT INTO inspections ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
        [inspection.get(c) for c in columns],
    )


def update_inspection(
    conn: apsw.Connection, inspection_id: str, changes: Row, updated_at: str
) -> None:
    columns = [c for c in WRITABLE_COLUMNS if c in changes]
    assignments = "".join(f"{c} = ?, " for c in columns)
    conn.execute(
        f"UPDATE inspections SET {assignments}updated_at = ? WHERE id = ?",
        [*(changes[c] for c in columns), updated_at, inspection_id],
    )


def count_all(conn: apsw.Connection) -> int:
    return int(scalar(conn, "SELECT COUNT(*) FROM inspections"))
