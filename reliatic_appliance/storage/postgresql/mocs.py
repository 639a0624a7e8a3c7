"""PostgreSQL: management-of-change records (SPEC §5 MOC), the port of `storage/mocs.py`.

Every value is a bound parameter; only the vetted column names below are spliced. The
history lives in `history.py`.
"""

from __future__ import annotations

from reliatic_appliance.ports import MocFilter, Row
from reliatic_appliance.storage.mocs import SORTABLE_COLUMNS, UPDATABLE_COLUMNS
from reliatic_appliance.storage.postgresql import listing
from reliatic_appliance.storage.postgresql.listing import Cursor
from reliatic_appliance.storage.postgresql.rows import insert_row, update_row

# The column lists are SQLite's (one source of truth for what a write may touch);
# `status` only changes through `set_status` (the state machine).
_INSERT_COLUMNS: tuple[str, ...] = ("id", *UPDATABLE_COLUMNS, "status", "created_at", "updated_at")
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


class PgMocs:
    """PostgreSQL: management-of-change records of one tenant (SPEC §5)."""

    def __init__(self, cur: Cursor, tenant_id: str) -> None:
        self._cur = cur
        self._tenant_id = tenant_id

    def get_moc(self, moc_id: str) -> Row | None:
        return self._cur.execute(
            _SELECT + " WHERE tenant_id = %s AND id = %s", (self._tenant_id, moc_id)
        ).fetchone()

    def list_mocs(
        self, flt: MocFilter, *, sort: str | None, limit: int, offset: int
    ) -> tuple[list[Row], int]:
        return listing.fetch_page(
            self._cur,
            select=_SELECT,
            table="mocs",
            tenant_id=self._tenant_id,
            conditions=_conditions(flt),
            sort=sort,
            sortable=SORTABLE_COLUMNS,
            limit=limit,
            offset=offset,
        )

    def insert_moc(self, moc: Row) -> None:
        insert_row(self._cur, "mocs", self._tenant_id, _INSERT_COLUMNS, moc)

    def update_moc(self, moc_id: str, changes: Row, updated_at: str) -> None:
        update_row(
            self._cur, "mocs", self._tenant_id, moc_id, UPDATABLE_COLUMNS, changes, updated_at
        )

    def set_status(self, moc_id: str, status: str, updated_at: str) -> None:
        self._cur.execute(
            "UPDATE mocs SET status = %s, updated_at = %s WHERE tenant_id = %s AND id = %s",
            (status, updated_at, self._tenant_id, moc_id),
        )
