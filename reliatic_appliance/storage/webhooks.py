"""SQL for webhook subscriptions, the delivery outbox and the attempt log (SPEC §7)."""

from __future__ import annotations

import json
from collections.abc import Sequence

import apsw

from reliatic_appliance.ports import Row
from reliatic_appliance.storage import listing, snapshot
from reliatic_appliance.storage.sqlite import scalar

_WEBHOOK_COLUMNS = (
    "id, url, events, description, enabled, secret_enc, previous_secret_enc,"
    " previous_secret_expires_at, disabled_reason, consecutive_failures, created_at, updated_at"
)
_DELIVERY_COLUMNS = (
    "id, webhook_id, event_id, event_type, payload, status, attempts, cycle_attempts,"
    " next_attempt_at, lease_owner, lease_until, last_status, last_error, created_at,"
    " updated_at, completed_at"
)
# What a sender needs of a claimed row (fewer columns: less to build per row).
_INSERT_DELIVERY = (
    "INSERT INTO webhook_deliveries (id, webhook_id, event_id, event_type, payload, status,"
    " next_attempt_at, created_at, updated_at) VALUES (:id, :webhook_id, :event_id,"
    " :event_type, :payload, 'pending', :next_attempt_at, :created_at, :created_at)"
)
_CLAIM_COLUMNS = "id, webhook_id, event_id, event_type, payload, attempts, cycle_attempts"
DELIVERY_SORTABLE = frozenset({"created_at", "updated_at", "next_attempt_at"})


def _webhook(row: Row | None) -> Row | None:
    if row is not None:
        row["events"] = json.loads(row["events"])
        row["enabled"] = bool(row["enabled"])
    return row


# -- subscriptions ----------------------------------------------------------------------


class SqliteWebhooks:
    """SQLite: webhook subscriptions, the outbox and the delivery log (SPEC §7)."""

    def __init__(self, conn: apsw.Connection) -> None:
        self._conn = conn

    def insert_webhook(self, hook: Row) -> None:
        self._conn.execute(
            "INSERT INTO webhooks (id, url, events, description, enabled, secret_enc, created_at,"
            " updated_at) VALUES (:id, :url, :events, :description, :enabled, :secret_enc,"
            " :created_at, :created_at)",
            {**hook, "events": json.dumps(hook["events"]), "enabled": int(hook["enabled"])},
        )

    def get_webhook(self, webhook_id: str) -> Row | None:
        row = self._conn.execute(
            f"SELECT {_WEBHOOK_COLUMNS} FROM webhooks WHERE id = ?", (webhook_id,)
        ).fetchone()
        return _webhook(row)

    def current_webhook(self, webhook_id: str) -> Row | None:
        """`get_webhook`, remembered until the file changes (`storage/snapshot.py`): any commit,
        from this process or another, makes the next call read the row again, so the answer is
        always the committed one. The row is shared between callers: never change it."""
        return snapshot.remembered(
            self._conn,
            ("webhooks.current_webhook", webhook_id),
            lambda: self.get_webhook(webhook_id),
        )

    def list_webhooks(self, *, limit: int, offset: int) -> tuple[list[Row], int]:
        rows, total = listing.fetch_page(
            self._conn,
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
        allowed = (
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
        columns = [c for c in allowed if c in changes]
        values = [
            json.dumps(changes[c])
            if c == "events"
            else int(changes[c])
            if c == "enabled"
            else changes[c]
            for c in columns
        ]
        assignments = ", ".join(f"{c} = ?" for c in columns)
        self._conn.execute(
            f"UPDATE webhooks SET {assignments}, updated_at = ? WHERE id = ?",
            [*values, updated_at, webhook_id],
        )

    def delete_webhook(self, webhook_id: str) -> bool:
        self._conn.execute("DELETE FROM webhooks WHERE id = ?", (webhook_id,))
        return self._conn.changes() > 0

    def subscribers(self, event_type: str) -> list[str]:
        """Ids of enabled subscriptions to `event_type` (few rows; filtered in Python)."""
        rows = self._conn.execute("SELECT id, events FROM webhooks WHERE enabled = 1 ORDER BY id")
        return [row["id"] for row in rows if event_type in json.loads(row["events"])]

    def count_failure(self, webhook_id: str, failed: bool) -> int:
        """Track deliveries that ended `failed` in a row; return the new count."""
        if failed:
            self._conn.execute(
                "UPDATE webhooks SET consecutive_failures = consecutive_failures + 1 WHERE id = ?",
                (webhook_id,),
            )
        else:
            self._conn.execute(
                "UPDATE webhooks SET consecutive_failures = 0 WHERE id = ? AND"
                " consecutive_failures <> 0",
                (webhook_id,),
            )
            return 0  # just reset: no need to read it back (one query less per success)
        row = self._conn.execute(
            "SELECT consecutive_failures FROM webhooks WHERE id = ?", (webhook_id,)
        ).fetchone()
        return 0 if row is None else int(row["consecutive_failures"])

    def insert_delivery(self, delivery: Row) -> None:
        self._conn.execute(_INSERT_DELIVERY, delivery)

    def insert_deliveries(self, deliveries: Sequence[Row]) -> None:
        if deliveries:
            self._conn.executemany(_INSERT_DELIVERY, deliveries)

    def get_delivery(self, delivery_id: str) -> Row | None:
        return self._conn.execute(
            f"SELECT {_DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = ?", (delivery_id,)
        ).fetchone()

    def list_deliveries(
        self, webhook_id: str, *, status: str | None, limit: int, offset: int
    ) -> tuple[list[Row], int]:
        return listing.fetch_page(
            self._conn,
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
        marks = ", ".join("?" for _ in delivery_ids)
        rows = self._conn.execute(
            "SELECT delivery_id, attempt, started_at, duration_ms, http_status, error"
            f" FROM webhook_attempts WHERE delivery_id IN ({marks}) ORDER BY delivery_id, attempt",
            delivery_ids,
        )
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
        """Take a lease on up to `limit` due deliveries; nobody else sends them meanwhile.

        Returns the columns a sender needs (`_CLAIM_COLUMNS`), not the whole row.

        Runs inside the writer's `BEGIN IMMEDIATE`, so two schedulers (even in two processes
        on one data dir) can never claim the same row. `skip_webhooks`: subscriptions the caller
        has enough of already (their rows wait for a later claim).
        """
        skip = ""
        if skip_webhooks:
            skip = f" AND webhook_id NOT IN ({', '.join('?' for _ in skip_webhooks)})"
        return list(
            self._conn.execute(
                "UPDATE webhook_deliveries SET lease_owner = ?, lease_until = ?, updated_at = ?"
                " WHERE id IN (SELECT id FROM webhook_deliveries WHERE status = 'pending'"
                " AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until < ?)"
                # A disabled subscription's deliveries wait; re-enabling sends them.
                f" AND webhook_id IN (SELECT id FROM webhooks WHERE enabled = 1){skip}"
                " ORDER BY next_attempt_at, id LIMIT ?)"
                f" RETURNING {_CLAIM_COLUMNS}",
                (owner, lease_until, now, now, now, *skip_webhooks, limit),
            )
        )

    def event_rows(self, event_ids: Sequence[int]) -> dict[int, Row]:
        """Several events by id in one query; missing ids are absent.

        Their `data` stays the compact JSON text `storage.events.insert_event` stored: a sender
        puts it into the body as it is, without decoding and encoding it again.
        """
        if not event_ids:
            return {}
        marks = ", ".join("?" for _ in event_ids)
        return {
            row["id"]: row
            for row in self._conn.execute(
                "SELECT id, type, resource_type, resource_id, data, created_at FROM events"
                f" WHERE id IN ({marks})",
                list(event_ids),
            )
        }

    def event_row(self, event_id: int) -> Row | None:
        row = self._conn.execute(
            "SELECT id, type, resource_type, resource_id, data, created_at FROM events"
            " WHERE id = ?",
            (event_id,),
        ).fetchone()
        if row is not None:
            row["data"] = json.loads(row["data"])
        return row

    def record_attempt(self, attempt: Row) -> None:
        self._conn.execute(
            "INSERT INTO webhook_attempts (delivery_id, attempt, started_at, duration_ms,"
            " http_status, error) VALUES (:delivery_id, :attempt, :started_at, :duration_ms,"
            " :http_status, :error)",
            attempt,
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
        self._conn.execute(
            "UPDATE webhook_deliveries SET status = ?, attempts = attempts + 1,"
            " cycle_attempts = cycle_attempts + 1, next_attempt_at = COALESCE(?, next_attempt_at),"
            " last_status = ?, last_error = ?, lease_owner = NULL, lease_until = NULL,"
            " updated_at = ?, completed_at = CASE WHEN ? IN ('succeeded', 'failed') THEN ?"
            " ELSE NULL END WHERE id = ? AND lease_owner = ?",
            (status, next_attempt_at, http_status, error, now, status, now, delivery_id, owner),
        )
        return self._conn.changes() > 0

    def requeue(self, delivery_id: str, now: str) -> None:
        """Manual redelivery: same id, a fresh retry cycle, due now."""
        self._conn.execute(
            "UPDATE webhook_deliveries SET status = 'pending', cycle_attempts = 0,"
            " next_attempt_at = ?, lease_owner = NULL, lease_until = NULL, completed_at = NULL,"
            " updated_at = ? WHERE id = ?",
            (now, now, delivery_id),
        )

    def purge_before(self, cutoff: str) -> tuple[int, int]:
        """Drop finished deliveries and events older than `cutoff` (log retention, SPEC §7)."""
        self._conn.execute(
            "DELETE FROM webhook_deliveries"
            " WHERE status IN ('succeeded', 'failed') AND created_at < ?",
            (cutoff,),
        )
        deliveries = self._conn.changes()
        # Events still referenced by a pending delivery stay until it is sent.
        self._conn.execute(
            "DELETE FROM events WHERE created_at < ? AND id NOT IN"
            " (SELECT event_id FROM webhook_deliveries WHERE event_id IS NOT NULL)",
            (cutoff,),
        )
        return deliveries, self._conn.changes()

    def release(self, delivery_ids: Sequence[str], *, owner: str) -> None:
        """Give back leases taken but not used (the rows are due again at once)."""
        if not delivery_ids:
            return
        marks = ", ".join("?" for _ in delivery_ids)
        self._conn.execute(
            "UPDATE webhook_deliveries SET lease_owner = NULL, lease_until = NULL"
            f" WHERE id IN ({marks}) AND lease_owner = ?",
            (*delivery_ids, owner),
        )

    def pending_backlog(self) -> tuple[int, str | None]:
        """How many deliveries are pending, and when the oldest of them was created.

        Two statements, each on the index that answers it from the index alone: the count on
        `webhook_deliveries_due` (a few ms per 100k pending), the oldest on the partial
        `webhook_deliveries_pending` (one seek; tenant migration 0007), named because the
        planner, without statistics, would take the first for both."""
        pending = scalar(
            self._conn, "SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'"
        )
        oldest = scalar(
            self._conn,
            "SELECT min(created_at) FROM webhook_deliveries INDEXED BY webhook_deliveries_pending"
            " WHERE status = 'pending'",
        )
        return int(pending), oldest
