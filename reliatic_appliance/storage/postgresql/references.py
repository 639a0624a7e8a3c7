"""Does a row a request refers to exist in this tenant? (Foreign-key checks.)"""

from __future__ import annotations

from reliatic_appliance.storage.postgresql.listing import Cursor
from reliatic_appliance.storage.references import TABLES


class PgReferences:
    """PostgreSQL: existence checks for ids named in request bodies (SPEC §5)."""

    def __init__(self, cur: Cursor, tenant_id: str) -> None:
        self._cur = cur
        self._tenant_id = tenant_id

    def exists(self, table: str, row_id: str) -> bool:
        if table not in TABLES:
            raise ValueError(f"not a referable table: {table}")
        row = self._cur.execute(
            f"SELECT 1 FROM {table} WHERE tenant_id = %s AND id = %s", (self._tenant_id, row_id)
        ).fetchone()
        return row is not None
