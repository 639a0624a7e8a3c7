"""SQL for the tenant's event table (SPEC §7)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import apsw
import pydantic_core

from reliatic_appliance.ports import Row
from reliatic_appliance.storage import listing
from reliatic_appliance.storage.sqlite import scalar

_INSERT = (
    "INSERT INTO events (type, resource_type, resource_id, data, actor, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)


def _values(event: Row) -> tuple[Any, ...]:
    return (
        event["type"],
        event["resource_type"],
        event["resource_id"],
        # pydantic-core: every write emits an event, and this is several times faster.
        pydantic_core.to_json(event["data"]).decode(),
        event["actor"],
        event["created_at"],
    )


class SqliteEvents:
    """SQLite: the event log of one tenant (SPEC §7)."""

    def __init__(self, conn: apsw.Connection) -> None:
        self._conn = conn

    def insert_event(self, event: Row) -> int:
        self._conn.execute(_INSERT, _values(event))
        return int(self._conn.last_insert_rowid())

    def insert_events(self, events: Sequence[Row]) -> list[int]:
        """Many events at once (a bulk import); their ids, in order."""
        # AUTOINCREMENT: new ids are above every id there is, so they are read back after
        # the insert (`RETURNING id` made it three times slower).
        before = int(scalar(self._conn, "SELECT COALESCE(MAX(id), 0) FROM events"))
        self._conn.executemany(_INSERT, [_values(event) for event in events])
        cursor = self._conn.cursor()
        cursor.row_trace = None  # plain tuples, not the connection's dicts
        return [row[0] for row in cursor.execute("SELECT id FROM events WHERE id > ?", (before,))]

    def count_events(self) -> int:
        return int(scalar(self._conn, "SELECT COUNT(*) FROM events"))

    def list_events(
        self,
        *,
        after: int | None,
        event_type: str | None,
        updated_since: str | None,
        limit: int,
        offset: int,
    ) -> tuple[list[Row], int]:
        """Events oldest first (the feed is read forwards from a cursor), with the total."""
        rows, total = listing.fetch_page(
            self._conn,
            select="SELECT id, type, resource_type, resource_id, data, created_at FROM events",
            table="events",
            conditions=[
                listing.Condition("id > ?", (after,)) if after is not None else None,
                listing.equals("type", event_type),
                listing.at_least("created_at", updated_since),
            ],
            sort=None,
            sortable=frozenset(),
            limit=limit,
            offset=offset,
        )
        for row in rows:
            row["data"] = json.loads(row["data"])
        return rows, total
