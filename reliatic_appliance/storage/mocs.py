"""SQL for management-of-change records (SPEC §5 MOC). Every value is a bound parameter;
only vetted column names are spliced. The history lives in `storage/history.py`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import apsw

from reliatic_appliance.storage import listing

Row = dict[str, Any]

# Columns a PUT may change; `status` only changes through `set_status` (the state machine).
UPDATABLE_COLUMNS: tuple[str, ...] = ("title", "description", "asset_id", "requested_by")
_INSERT_COLUMNS: tuple[str, ...] = ("id", *UPDATABLE_COLUMNS, "status", "created_at", "updated_at")
SORTABLE_COLUMNS: frozenset[str] = frozenset({"created_at", "updated_at"})
_SELECT = (
    "SELECT id, title, description, asset_id, requested_by, status, created_at, updated_at"
    " FROM mocs"
)


@dataclass(frozen=True)
class MocFilter:
    status: str | None = None
    asset_id: str | None = None
    updated_since: str | None = None

    def conditions(self) -> list[listing.Condition | None]:
        return [
            listing.equals("status", self.status),
            listing.equals("asset_id", self.asset_id),
            listing.at_least("updated_at", self.updated_since),
        ]


def get_moc(conn: apsw.Connection, moc_id: str) -> Row | None:
    return conn.execute(_SELECT + " WHERE id = ?", (moc_id,)).fetchone()


def list_mocs(
    conn: apsw.Connection, flt: MocFilter, *, sort: str | None, limit: int, offset: int
) -> tuple[list[Row], int]:
    return listing.fetch_page(
        conn,
        select=_SELECT,
        table="mocs",
        conditions=flt.conditions(),
        sort=sort,
        sortable=SORTABLE_COLUMNS,
        limit=limit,
        offset=offset,
    )


def insert_moc(conn: apsw.Connection, moc: Row) -> None:
    conn.execute(
        f"INSERT INTO mocs ({', '.join(_INSERT_COLUMNS)})"
        f" VALUES ({', '.join('?' * len(_INSERT_COLUMNS))})",
        [moc.get(c) for c in _INSERT_COLUMNS],
    )


def update_moc(conn: apsw.Connection, moc_id: str, changes: Row, updated_at: str) -> None:
    columns = [c for c in UPDATABLE_COLUMNS if c in changes]
    assignments = "".join(f"{c} = ?, " for c in columns)
    conn.execute(
        f"UPDATE mocs SET {assignments}updated_at = ? WHERE id = ?",
        [*(changes[c] for c in columns), updated_at, moc_id],
    )


def set_status(conn: apsw.Connection, moc_id: str, status: str, updated_at: str) -> None:
    conn.execute(
        "UPDATE mocs SET status = ?, updated_at = ? WHERE id = ?", (status, updated_at, moc_id)
    )
