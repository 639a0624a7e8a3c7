"""SQL for assets. Every value is a bound parameter; only vetted column names are spliced."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import apsw

from reliatic_appliance.storage import listing
from reliatic_appliance.storage.sqlite import scalar

Row = dict[str, Any]

# Insertable/updatable columns, in table order. Column names below come only from here
# or from the sort whitelist in the schema, never from a request.
WRITABLE_COLUMNS: tuple[str, ...] = (
    "tag_number",
    "name",
    "asset_type",
    "description",
    "status",
    "location",
    "unit",
    "manufacturer",
    "material",
    "install_date",
    "design_pressure_kpa",
    "design_temperature_c",
    "nominal_thickness_mm",
    "required_thickness_mm",
    "corrosion_allowance_mm",
    "criticality",
)
COMPUTED_COLUMNS: tuple[str, ...] = (
    "risk_ranking",
    "last_inspection_date",
    "corrosion_rate_mm_per_year",
    "remaining_life_years",
    "next_inspection_due",
)
SORTABLE_COLUMNS: frozenset[str] = frozenset(
    {
        "created_at",
        "updated_at",
        "tag_number",
        "name",
        "install_date",
        "design_pressure_kpa",
        "design_temperature_c",
        "nominal_thickness_mm",
        "required_thickness_mm",
        "last_inspection_date",
        "corrosion_rate_mm_per_year",
        "remaining_life_years",
        "next_inspection_due",
    }
)
_SELECT = (
    "SELECT id, "
    + ", ".join(WRITABLE_COLUMNS + COMPUTED_COLUMNS)
    + ", created_at, updated_at FROM assets"
)


@dataclass(frozen=True)
class AssetFilter:
    status: str | None = None
    asset_type: str | None = None
    search: str | None = None
    updated_since: str | None = None

    def conditions(self) -> list[listing.Condition | None]:
        return [
            listing.equals("status", self.status),
            listing.equals("asset_type", self.asset_type),
            listing.contains_any(("tag_number", "description"), self.search),
            listing.at_least("updated_at", self.updated_since),
        ]


def get_asset(conn: apsw.Connection, asset_id: str) -> Row | None:
    return conn.execute(_SELECT + " WHERE id = ?", (asset_id,)).fetchone()


def list_assets(
    conn: apsw.Connection, flt: AssetFilter, *, sort: str | None, limit: int, offset: int
) -> tuple[list[Row], int]:
    return listing.fetch_page(
        conn,
        select=_SELECT,
        table="assets",
        conditions=flt.conditions(),
        sort=sort,
        sortable=SORTABLE_COLUMNS,
        limit=limit,
        offset=offset,
    )


def insert_asset(conn: apsw.Connection, asset: Row) -> None:
    columns = ("id", *WRITABLE_COLUMNS, "created_at", "updated_at")
    conn.execute(
        f"INSERT INTO assets ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
        [asset.get(c) for c in columns],
    )


def update_asset(conn: apsw.Connection, asset_id: str, changes: Row, updated_at: str) -> None:
    columns = [c for c in WRITABLE_COLUMNS if c in changes]
    assignments = ", ".join(f"{c} = ?" for c in columns)
    conn.execute(
        f"UPDATE assets SET {assignments}, updated_at = ? WHERE id = ?",
        [*(changes[c] for c in columns), updated_at, asset_id],
    )


def tag_exists(conn: apsw.Connection, tag_number: str, except_id: str | None = None) -> bool:
    row = conn.execute(
        "SELECT id FROM assets WHERE tag_number = ? AND id IS NOT ?", (tag_number, except_id)
    ).fetchone()
    return row is not None


def count_all(conn: apsw.Connection) -> int:
    return int(scalar(conn, "SELECT COUNT(*) FROM assets"))
