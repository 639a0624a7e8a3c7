"""PostgreSQL: webhook subscriptions, the delivery outbox and the attempt log (SPEC §7), as
`storage/webhooks.py` on SQLite, returning the same rows.

Several nodes may run a scheduler on one database (SPEC §11). A claim takes its rows with
`FOR UPDATE SKIP LOCKED` and leases them (`lease_owner`, `lease_until`) in the same
statement: a row another transaction is claiming is skipped rather than waited for, and
once that claim commits its lease keeps every other scheduler off the row until the lease
runs out. So a delivery is sent by one node at a time, and a node that dies mid-send only
delays it: its lease expires and another node claims the row again (at least once, never
lost; the SQLite design's semantics, scheduler/claim.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import psycopg

from reliatic_appliance.ports import Row
from reliatic_appliance.storage.postgresql import listing

_WEBHOOK_COLUMNS = (
    "id, url, events, description, enabled, secret_enc, previous_secret_enc,"
    " previous_secret_expires_at, disabled_reason, consecutive_failures, created_at, updated_at"
)
_DELIVERY_COLUMNS = (
    "id, webhook_id, event_id, event_type, payload, status, attempts, cycle_attempts,"
    " next_attempt_at, lease_owner, lease_until, last_status, last_error, created_at,"
    " updated_at, completed_at"
)
_INSERT_DELIVERY = (
    "INSERT INTO webhook_deliveries (tenant_id, id, webhook_id, event_id, event_type, payload,"
    " status, next_attempt_at, created_at, updated_at) VALUES (%(tenant_id)s, %(id)s,"
    " %(webhook_id)s, %(event_id)s, %(event_type)s, %(payload)s, 'pending',"
    " %(next_attempt_at)s, %(created_at)s, %(created_at)s)"
)
# What a sender needs of a claimed row (scheduler/claim.py).
_CLAIM_COLUMNS = "id, webhook_id, event_id, event_type, payload, attempts, cycle_attempts"
_CLAIM_RETURNING = ", ".join(f"d.{column}" for column in _CLAIM_COLUMNS.split(", "))
_EVENT_COLUMNS = "id, type, resource_type, resource_id, data, created_at"
DELIVERY_SORTABLE = frozenset({"created_at", "updated_at", "next_attempt_at"})
_UPDATABLE = (
    "url",
    "events",
    "description",
    "enabled",
    "secret_enc",
    "previous_secret_enc",
    "previous_secret_expires_at",
    "disabled_reason",
    "consecutive_failures",
)


def _webhook(row: Row | None) -> Row | None:
    if row is not None:
        row["events"] = json.loads(row["events"])
        row["enabled"] = bool(row["enabled"])
    return row


class PgWebhooks:
    """PostgreSQL: webhook subscriptions, the outbox and the delivery log of one tenant."""

    def __init__(self, cur: psycopg.Cursor[Row], tenant_id: str) -> None:
        self._cur = cur
        self._tenant = tenant_id

    def _one(self, sql: str, params: Sequence[object]) -> Row | None:
        return self._cur.execute(sql, params).fetchone()

    # -- subscriptions ----------------------------------------------------------------------

    def insert_webhook(self, hook: Row) -> None:
        self._cur.execute(
            "INSERT INTO webhooks (tenant_id, id, url, events, description, enabled, secret_enc,"
            " created_at, updated_at) VALUES (%(tenant_id)s, %(id)s, %(url)s, %(events)s,"
            " %(description)s, %(enabled)s, %(secret_enc)s, %(created_at)s, %(created_at)s)",
            {
                **hook,
                "tenant_id": self._tenant,
                "events": json.dumps(hook["events"]),
                "enabled": bool(hook["enabled"]),
            },
        )

    def get_webhook(self, webhook_id: str) -> Row | None:
        return _webhook(
            self._one(
                f"SELECT {_WEBHOOK_COLUMNS} FROM webhooks WHERE tenant_id = %s AND id = %s",
                (self._tenant, webhook_id),
            )
        )

    def current_webhook(self, webhook_id: str) -> Row | None:
        """`get_webhook`: read afresh every time. The SQLite store remembers it until the file
        changes; here another node may change it at any moment and nothing local would know,
        and one primary-key read is what the remembering saves."""
        return self.get_webhook(webhook_id)

    def list_webhooks(self, *, limit: int, offset: int) -> tuple[list[Row], int]:
        rows, total = listing.fetch_page(
            self._cur,
            tenant_id=self._tenant,
            select=f"SELECT {_WEBHOOK_COLUMNS} FROM webhooks",
            table="webhooks",
            conditions=[],
            sort=None,
            sortable=frozenset(),
            limit=limit,
            offset=offset,
        )
        return [r for r in (_webhook(row) for row in rows) if r is not None], total

    def update_webhook(self, webhook_id: str, changes: Row, updated_at: str) -> None:
        columns = [c for c in _UPDATABLE if c in changes]
        values = [
            json.dumps(changes[c])
            if c == "events"
            else bool(changes[c])
            if c == "enabled"
            else changes[c]
            for c in columns
        ]
        # Column names come only from _UPDATABLE, never from the caller.
        assignments = "".join(f"{c} = %s, " for c in columns)
        self._cur.execute(
            f"UPDATE webhooks SET {assignments}updated_at = %s WHERE tenant_id = %s AND id = %s",
            [*values, updated_at, self._tenant, webhook_id],
        )

    def delete_webhook(self, webhook_id: str) -> bool:
        self._cur.execute(
            "DELETE FROM webhooks WHERE tenant_id = %s AND id = %s", (self._tenant, webhook_id)
        )
        return self._cur.rowcount > 0

    def subscribers(self, event_type: str) -> list[str]:
        """Ids of enabled subscriptions to `event_type` (few rows; filtered in Python)."""
        rows = self._cur.execute(
            "SELECT id, events FROM webhooks WHERE tenant_id = %s AND enabled ORDER BY id",
            (self._tenant,),
        ).fetchall()
        return [row["id"] for row in rows if event_type in json.loads(row["events"])]

    def count_failure(self, webhook_id: str, failed: bool) -> int:
        """Track deliveries that ended `failed` in a row; return the new count."""
        if not failed:
            self._cur.execute(
                "UPDATE webhooks SET consecutive_failures = 0 WHERE tenant_id = %s AND id = %s"
                " AND consecutive_failures <> 0",
                (self._tenant, webhook_id),
            )
            return 0
        row = self._one(
            "UPDATE webhooks SET consecutive_failures = consecutive_failures + 1"
            " WHERE tenant_id = %s AND id = %s RETURNING consecutive_failures",
            (self._tenant, webhook_id),
        )
        return 0 if row is None else int(row["consecutive_failures"])

    # -- the outbox -------------------------------------------------------------------------

    def insert_delivery(self, delivery: Row) -> None:
        self._cur.execute(_INSERT_DELIVERY, {**delivery, "tenant_id": self._tenant})

    def insert_deliveries(self, deliveries: Sequence[Row]) -> None:
        """Many outbox rows at once (a bulk import's events): one INSERT over binary arrays
        (text arrays would spend their time escaping JSON in Python)."""
        if not deliveries:
            return
        fields = ("id", "webhook_id", "event_id", "event_type", "payload", "next_attempt_at")
        columns = [
            [None if d[f] is None else str(d[f]) for d in deliveries]
            for f in (*fields, "created_at")
        ]
        self._cur.execute(
            "INSERT INTO webhook_deliveries (tenant_id, id, webhook_id, event_id, event_type,"
            " payload, status, next_attempt_at, created_at, updated_at)"
            " SELECT %b, d.id, d.webhook_id, d.event_id::bigint, d.event_type, d.payload,"
            " 'pending', d.next_attempt_at::timestamptz, d.created_at::timestamptz,"
            " d.created_at::timestamptz FROM unnest(%b::text[], %b::text[], %b::text[],"
            " %b::text[], %b::text[], %b::text[], %b::text[])"
            " AS d(id, webhook_id, event_id, event_type, payload, next_attempt_at, created_at)",
            (self._tenant, *columns),
        )

    def get_delivery(self, delivery_id: str) -> Row | None:
        return self._one(
            f"SELECT {_DELIVERY_COLUMNS} FROM webhook_deliveries WHERE tenant_id = %s AND id = %s",
            (self._tenant, delivery_id),
        )

    def list_deliveries(
        self, webhook_id: str, *, status: str | None, limit: int, offset: int
    ) -> tuple[list[Row], int]:
        return listing.fetch_page(
            self._cur,
            tenant_id=self._tenant,
            select=f"SELECT {_DELIVERY_COLUMNS} FROM webhook_deliveries",
            table="webhook_deliveries",
            conditions=[listing.equals("webhook_id", webhook_id), listing.equals("status", status)],
            sort="-created_at",
            sortable=DELIVERY_SORTABLE,
            limit=limit,
            offset=offset,
        )

    def attempts_of(self, delivery_ids: list[str]) -> dict[str, list[Row]]:
        """The attempt log of several deliveries in one query, oldest attempt first."""
        found: dict[str, list[Row]] = {d: [] for d in delivery_ids}
        if not delivery_ids:
            return found
        rows = self._cur.execute(
            "SELECT delivery_id, attempt, started_at, duration_ms, http_status, error"
            " FROM webhook_attempts WHERE tenant_id = %s AND delivery_id = ANY(%s)"
            " ORDER BY delivery_id, attempt",
            (self._tenant, list(delivery_ids)),
        ).fetchall()
        for row in rows:
            found[row.pop("delivery_id")].append(row)
        return found

    def claim_due(
        self,
        *,
        owner: str,
        now: str,
        lease_until: str,
        limit: int,
        skip_webhooks: Sequence[str] = (),
    ) -> list[Row]:
        """Take a lease on up to `limit` due deliveries, oldest due first; nobody else sends
        them meanwhile (see the module doc). Returns the columns a sender needs.

        `skip_webhooks`: subscriptions the caller has enough of already (their rows wait)."""
        skip = " AND NOT (d.webhook_id = ANY(%(skip)s))" if skip_webhooks else ""
        rows = self._cur.execute(
            "WITH due AS ("
            " SELECT d.id FROM webhook_deliveries d"
            " WHERE d.tenant_id = %(tenant)s AND d.status = 'pending'"
            " AND d.next_attempt_at <= %(now)s"
            " AND (d.lease_until IS NULL OR d.lease_until < %(now)s)"
            # A disabled subscription's deliveries wait; re-enabling sends them.
            " AND d.webhook_id IN (SELECT w.id FROM webhooks w"
            " WHERE w.tenant_id = %(tenant)s AND w.enabled)"
            f"{skip}"
            " ORDER BY d.next_attempt_at, d.id LIMIT %(limit)s"
            " FOR UPDATE OF d SKIP LOCKED),"
            " claimed AS ("
            " UPDATE webhook_deliveries d SET lease_owner = %(owner)s,"
            " lease_until = %(until)s, updated_at = %(now)s"
            " FROM due WHERE d.tenant_id = %(tenant)s AND d.id = due.id"
            f" RETURNING d.next_attempt_at AS due_at, {_CLAIM_RETURNING})"
            f" SELECT {_CLAIM_COLUMNS} FROM claimed ORDER BY due_at, id",
            {
                "tenant": self._tenant,
                "now": now,
                "until": lease_until,
                "owner": owner,
                "limit": limit,
                "skip": list(skip_webhooks),
            },
        ).fetchall()
        return rows

    def event_rows(self, event_ids: Sequence[int]) -> dict[int, Row]:
        """Several events by id in one query; missing ids are absent. `data` stays the compact
        JSON text the event store wrote: a sender puts it into the body as it is."""
        if not event_ids:
            return {}
        rows = self._cur.execute(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE tenant_id = %s AND id = ANY(%s)",
            (self._tenant, list(event_ids)),
        ).fetchall()
        return {row["id"]: row for row in rows}

    def event_row(self, event_id: int) -> Row | None:
        row = self._one(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE tenant_id = %s AND id = %s",
            (self._tenant, event_id),
        )
        if row is not None:
            row["data"] = json.loads(row["data"])
        return row

    def record_attempt(self, attempt: Row) -> None:
        self._cur.execute(
            "INSERT INTO webhook_attempts (tenant_id, delivery_id, attempt, started_at,"
            " duration_ms, http_status, error) VALUES (%(tenant_id)s, %(delivery_id)s,"
            " %(attempt)s, %(started_at)s, %(duration_ms)s, %(http_status)s, %(error)s)",
            {**attempt, "tenant_id": self._tenant},
        )

    def finish_attempt(
        self,
        delivery_id: str,
        *,
        owner: str,
        status: str,
        next_attempt_at: str | None,
        http_status: int | None,
        error: str | None,
        now: str,
    ) -> bool:
        """Record the outcome of the leased attempt; False if the lease was lost meanwhile."""
        self._cur.execute(
            "UPDATE webhook_deliveries SET status = %(status)s, attempts = attempts + 1,"
            " cycle_attempts = cycle_attempts + 1,"
            " next_attempt_at = COALESCE(%(next)s::timestamptz, next_attempt_at),"
            " last_status = %(http_status)s, last_error = %(error)s, lease_owner = NULL,"
            " lease_until = NULL, updated_at = %(now)s, completed_at = CASE WHEN"
            " %(status)s IN ('succeeded', 'failed') THEN %(now)s::timestamptz ELSE NULL END"
            " WHERE tenant_id = %(tenant)s AND id = %(id)s AND lease_owner = %(owner)s",
            {
                "status": status,
                "next": next_attempt_at,
                "http_status": http_status,
                "error": error,
                "now": now,
                "tenant": self._tenant,
                "id": delivery_id,
                "owner": owner,
            },
        )
        return self._cur.rowcount > 0

    def requeue(self, delivery_id: str, now: str) -> None:
        """Manual redelivery: same id, a fresh retry cycle, due now."""
        self._cur.execute(
            "UPDATE webhook_deliveries SET status = 'pending', cycle_attempts = 0,"
            " next_attempt_at = %(now)s, lease_owner = NULL, lease_until = NULL,"
            " completed_at = NULL, updated_at = %(now)s WHERE tenant_id = %(tenant)s"
            " AND id = %(id)s",
            {"now": now, "tenant": self._tenant, "id": delivery_id},
        )

    def purge_before(self, cutoff: str) -> tuple[int, int]:
        """Drop finished deliveries and events older than `cutoff` (log retention, SPEC §7)."""
        self._cur.execute(
            "DELETE FROM webhook_deliveries WHERE tenant_id = %s"
            " AND status IN ('succeeded', 'failed') AND created_at < %s",
            (self._tenant, cutoff),
        )
        deliveries = self._cur.rowcount
        # Events still referenced by a delivery stay until it goes.
        self._cur.execute(
            "DELETE FROM events e WHERE e.tenant_id = %(tenant)s AND e.created_at < %(cutoff)s"
            " AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d"
            " WHERE d.tenant_id = %(tenant)s AND d.event_id = e.id)",
            {"tenant": self._tenant, "cutoff": cutoff},
        )
        return deliveries, self._cur.rowcount

    def release(self, delivery_ids: Sequence[str], *, owner: str) -> None:
        """Give back leases taken but not used (the rows are due again at once)."""
        if not delivery_ids:
            return
        self._cur.execute(
            "UPDATE webhook_deliveries SET lease_owner = NULL, lease_until = NULL"
            " WHERE tenant_id = %s AND id = ANY(%s) AND lease_owner = %s",
            (self._tenant, list(delivery_ids), owner),
        )

    def pending_backlog(self) -> tuple[int, str | None]:
        """How many deliveries are pending, and when the oldest of them was created."""
        row = self._one(
            "SELECT count(*) AS pending, min(created_at) AS oldest FROM webhook_deliveries"
            " WHERE tenant_id = %s AND status = 'pending'",
            (self._tenant,),
        )
        if row is None:
            return 0, None
        return int(row["pending"]), row["oldest"]
