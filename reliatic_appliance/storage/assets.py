"""SQL for assets. Every value is a bound parameter; only vetted column names are spliced."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import apsw

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


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _where(flt: AssetFilter) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if flt.status is not None:
        clauses.append("status = ?")
        params.append(flt.status)
    if flt.asset_type is not None:
        clauses.append("asset_type = ?")
        params.append(flt.asset_type)
    if flt.search is not None:
        pattern = f"%{_escape_like(flt.search)}%"
        clauses.append("(tag_number LIKE ? ESCAPE '\\' OR description LIKE ? ESCAPE '\\')")
        params.extend([pattern, pattern])
    if flt.updated_since is not None:
        clauses.append("updated_at >= ?")
        params.append(flt.updated_since)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def get_asset(conn: apsw.Connection, asset_id: str) -> Row | None:
    return conn.execute(_SELECT + " WHERE id = ?", (asset_id,)).fetchone()


def count_assets(conn: apsw.Connection, flt: AssetFilter) -> int:
    where, params = _where(flt)
    return int(scalar(conn, "SELECT COUNT(*) FROM assets" + where, params))


def list_assets(
    conn: apsw.Connection, flt: AssetFilter, *, sort: str | None, limit: int, offset: int
) -> list[Row]:
    where, params = _where(flt)
    order = "id"
    if sort:
        column = sort.lstrip("-")
        if column not in SORTABLE_COLUMNS:
            raise ValueError(f"not a sortable column: {column}")
        direction = "DESC" if sort.startswith("-") else "ASC"
        order = f"{column} {direction}, id {direction}"
    sql = f"{_SELECT}{where} ORDER BY {order} LIMIT ? OFFSET ?"
    return list(conn.execute(sql, [*params, limit, offset]))


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
