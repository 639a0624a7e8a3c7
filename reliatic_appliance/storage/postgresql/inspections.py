"""PostgreSQL: inspections (SPEC §5), the port of `storage/inspections.py`.

Every value is a bound parameter; only the vetted column names below are spliced.
"""

from __future__ import annotations

from reliatic_appliance.ports import InspectionFilter, Row
from reliatic_appliance.storage.inspections import SORTABLE_COLUMNS, WRITABLE_COLUMNS
from reliatic_appliance.storage.postgresql import listing
from reliatic_appliance.storage.postgresql.listing import Cursor
from reliatic_appliance.storage.postgresql.rows import insert_row, update_row

# The column lists are SQLite's (one source of truth for what a write may touch).
_INSERT_COLUMNS: tuple[str, ...] = ("id", "asset_id", *WRITABLE_COLUMNS, "created_at", "updated_at")
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


class PgInspections:
    """PostgreSQL: inspections of one tenant (SPEC §5)."""

    def __init__(self, cur: Cursor, tenant_id: str) -> None:
        self._cur = cur
        self._tenant_id = tenant_id

    def get_inspection(self, inspection_id: str) -> Row | None:
        return self._cur.execute(
            _SELECT + " WHERE tenant_id = %s AND id = %s", (self._tenant_id, inspection_id)
        ).fetchone()

    def list_inspections(
        self, flt: InspectionFilter, *, sort: str | None, limit: int, offset: int
    ) -> tuple[list[Row], int]:
        return listing.fetch_page(
            self._cur,
            select=_SELECT,
            table="inspections",
            tenant_id=self._tenant_id,
            conditions=_conditions(flt),
            sort=sort,
            sortable=SORTABLE_COLUMNS,
            limit=limit,
            offset=offset,
        )

    def insert_inspection(self, inspection: Row) -> None:
        insert_row(self._cur, "inspections", self._tenant_id, _INSERT_COLUMNS, inspection)

    def update_inspection(self, inspection_id: str, changes: Row, updated_at: str) -> None:
        update_row(
            self._cur,
            "inspections",
            self._tenant_id,
            inspection_id,
            WRITABLE_COLUMNS,
            changes,
            updated_at,
        )

    def count_all(self) -> int:
        row = self._cur.execute(
            "SELECT COUNT(*) AS n FROM inspections WHERE tenant_id = %s", (self._tenant_id,)
        ).fetchone()
        return 0 if row is None else int(row["n"])
