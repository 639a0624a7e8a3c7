"""SQL for management-of-change records (SPEC §5 MOC). Every value is a bound parameter;
only vetted column names are spliced. The history lives in `storage/history.py`."""

from __future__ import annotations

import apsw

from reliatic_appliance.ports import MOC_SORTABLE, MocFilter, Row
from reliatic_appliance.storage import listing

# Columns a PUT may change; `status` only changes through `set_status` (the state machine).
UPDATABLE_COLUMNS: tuple[str, ...] = ("title", "description", "asset_id", "requested_by")
_INSERT_COLUMNS: tuple[str, ...] = ("id", *UPDATABLE_COLUMNS, "status", "created_at", "updated_at")
SORTABLE_COLUMNS: frozenset[str] = frozenset(MOC_SORTABLE)
_SELECT = (
    "SELECT id, title, description, asset_id, requested_by, status, created_at, updated_at"
    " FROM mocs"
)


def _conditions(flt: MocFilter) -> list[listing.Condition | None]:
    return [
        listing.equals("status", flt.status),
        listing.equals("asset_id", flt.asset_id),
        listing.at_least("updated_at", flt.updated_since),
    ]


class SqliteMocs:
    """SQLite: management-of-change records of one tenant (SPEC §5)."""

    def __init__(self, conn: apsw.Connection) -> None:
        self._conn = conn

    def get_moc(self, moc_id: str) -> Row | None:
        return self._conn.execute(_SELECT + " WHERE id = ?", (moc_id,)).fetchone()

    def list_mocs(
        self, flt: MocFilter, *, sort: str | None, limit: int, offset: int
    ) -> tuple[list[Row], int]:
        return listing.fetch_page(
            self._conn,
            select=_SELECT,
            table="mocs",
            conditions=_conditions(flt),
            sort=sort,
            sortable=SORTABLE_COLUMNS,
            limit=limit,
            offset=offset,
        )

    def insert_moc(self, moc: Row) -> None:
        self._conn.execute(
            f"INSERT INTO mocs ({', '.join(_INSERT_COLUMNS)})"
            f" VALUES ({', '.join('?' * len(_INSERT_COLUMNS))})",
            [moc.get(c) for c in _INSERT_COLUMNS],
        )

    def update_moc(self, moc_id: str, changes: Row, updated_at: str) -> None:
        columns = [c for c in UPDATABLE_COLUMNS if c in changes]
        assignments = "".join(f"{c} = ?, " for c in columns)
        self._conn.execute(
            f"UPDATE mocs SET {assignments}updated_at = ? WHERE id = ?",
            [*(changes[c] for c in columns), updated_at, moc_id],
        )

    def set_status(self, moc_id: str, status: str, updated_at: str) -> None:
        self._conn.execute(
            "UPDATE mocs SET status = ?, updated_at = ? WHERE id = ?", (status, updated_at, moc_id)
        )
