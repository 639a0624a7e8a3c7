"""SQL for inspections. Every value is a bound parameter; only vetted column names are spliced."""

from __future__ import annotations

import apsw

from reliatic_appliance.ports import INSPECTION_SORTABLE, InspectionFilter, Row
from reliatic_appliance.storage import listing
from reliatic_appliance.storage.sqlite import scalar

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
SORTABLE_COLUMNS: frozenset[str] = frozenset(INSPECTION_SORTABLE)
_SELECT = (
    "SELECT id, asset_id, "
    + ", ".join(WRITABLE_COLUMNS)
    + ", created_at, updated_at FROM inspections"
)


def _conditions(flt: InspectionFilter) -> list[listing.Condition | None]:
    return [
        listing.equals("asset_id", flt.asset_id),
        listing.equals("inspection_type", flt.inspection_type),
        listing.equals("status", flt.status),
        listing.at_least("inspection_date", flt.date_from),
        listing.at_most("inspection_date", flt.date_to),
        listing.at_least("updated_at", flt.updated_since),
    ]


class SqliteInspections:
    """SQLite: inspections of one tenant (SPEC §5)."""

    def __init__(self, conn: apsw.Connection) -> None:
        self._conn = conn

    def get_inspection(self, inspection_id: str) -> Row | None:
        return self._conn.execute(_SELECT + " WHERE id = ?", (inspection_id,)).fetchone()

    def list_inspections(
        self, flt: InspectionFilter, *, sort: str | None, limit: int, offset: int
    ) -> tuple[list[Row], int]:
        return listing.fetch_page(
            self._conn,
            select=_SELECT,
            table="inspections",
            conditions=_conditions(flt),
            sort=sort,
            sortable=SORTABLE_COLUMNS,
            limit=limit,
            offset=offset,
        )

    def insert_inspection(self, inspection: Row) -> None:
        columns = ("id", "asset_id", *WRITABLE_COLUMNS, "created_at", "updated_at")
        self._conn.execute(
            f"INSERT INTO inspections ({', '.join(columns)})"
            f" VALUES ({', '.join('?' * len(columns))})",
            [inspection.get(c) for c in columns],
        )

    def update_inspection(self, inspection_id: str, changes: Row, updated_at: str) -> None:
        columns = [c for c in WRITABLE_COLUMNS if c in changes]
        assignments = "".join(f"{c} = ?, " for c in columns)
        self._conn.execute(
            f"UPDATE inspections SET {assignments}updated_at = ? WHERE id = ?",
            [*(changes[c] for c in columns), updated_at, inspection_id],
        )

    def count_all(self) -> int:
        return int(scalar(self._conn, "SELECT COUNT(*) FROM inspections"))
