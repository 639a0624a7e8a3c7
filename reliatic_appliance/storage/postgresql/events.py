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
        """Many events at once (a bulk import); their ids, in order.

        One statement over arrays (ten times the rows per second of one INSERT per event).
        The identity is drawn row by row as the sorted rows reach the insert, so ids rise
        in the order of `events`, whatever order RETURNING gives them back in.
        """
        if not events:
            return []
        columns = list(zip(*(self._values(e)[1:] for e in events), strict=True))
        rows = self._cur.execute(
            "INSERT INTO events (tenant_id, type, resource_type, resource_id, data, actor,"
            " created_at) SELECT %s, e.type, e.resource_type, e.resource_id, e.data, e.actor,"
            " e.created_at::timestamptz FROM unnest(%b::text[], %b::text[], %b::text[],"
            " %b::text[], %b::text[], %b::text[]) WITH ORDINALITY"
            " AS e(type, resource_type, resource_id, data, actor, created_at, n)"
            " ORDER BY e.n RETURNING id",
            (self._tenant, *(list(column) for column in columns)),
        ).fetchall()
        return sorted(int(row["id"]) for row in rows)

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
