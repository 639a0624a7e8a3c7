"""PostgreSQL: the tenant's event feed (SPEC §7), as `storage/events.py` on SQLite."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import psycopg
import pydantic_core

from reliatic_appliance.ports import Row
from reliatic_appliance.storage.postgresql import listing

_INSERT = (
    "INSERT INTO events (tenant_id, type, resource_type, resource_id, data, actor, created_at)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id"
)


class PgEvents:
    """PostgreSQL: the event log of one tenant (SPEC §7)."""

    def __init__(self, cur: psycopg.Cursor[Row], tenant_id: str) -> None:
        self._cur = cur
        self._tenant = tenant_id

    def _values(self, event: Row) -> tuple[Any, ...]:
        return (
            self._tenant,
            event["type"],
            event["resource_type"],
            event["resource_id"],
            # Compact JSON text, the same bytes the SQLite store keeps (a sender splices it).
            pydantic_core.to_json(event["data"]).decode(),
            event["actor"],
            event["created_at"],
        )

    def insert_event(self, event: Row) -> int:
        row = self._cur.execute(_INSERT, self._values(event)).fetchone()
        assert row is not None
        return int(row["id"])

    def insert_events(self, events: Sequence[Row]) -> list[int]:
        """Many events at once (a bulk import); their ids, in order."""
        if not events:
            return []
        # One statement per row, pipelined by psycopg, each returning its own id: the ids
        # come back in the order of `events`, which one multi-row INSERT does not promise.
        self._cur.executemany(_INSERT, [self._values(e) for e in events], returning=True)
        ids: list[int] = []
        while True:
            row = self._cur.fetchone()
            assert row is not None
            ids.append(int(row["id"]))
            if not self._cur.nextset():
                return ids

    def count_events(self) -> int:
        row = self._cur.execute(
            "SELECT count(*) AS n FROM events WHERE tenant_id = %s", (self._tenant,)
        ).fetchone()
        return 0 if row is None else int(row["n"])

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
            self._cur,
            tenant_id=self._tenant,
            select="SELECT id, type, resource_type, resource_id, data, created_at FROM events",
            table="events",
            conditions=[
                listing.Condition("id > %s", (after,)) if after is not None else None,
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
