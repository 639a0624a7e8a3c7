"""The storage interface ("ports"): what the services may ask of a database (SPEC §11).

Services depend on these `Protocol`s only; a backend implements them. The SQLite backend
(`storage/`: `sqlite.py`, `transactions.py` and one module of SQL per resource) is the
only one today; a
PostgreSQL backend implements the same protocols, so it is an addition, not a rewrite.

- A *transaction handle* (`TenantTx`, `ControlTx`) gives one store per concern. Every
  store method runs inside the transaction the handle stands for, synchronously: a unit of
  work is plain code, and the backend decides where it runs (SQLite: the file's writer
  thread with group commit; PostgreSQL: a pooled connection).
- A *database* (`TenantDb`, `ControlDb`) runs units of work: `await db.read(fn)` in one
  read snapshot, `await db.write(fn)` in one write transaction, returning after COMMIT
  (`linger` lets small writes that nobody waits on share a transaction).
- Backends raise only the project's errors: `errors.Unavailable` (busy or full disk: 503),
  `UniqueViolation` below (a unique constraint), never a driver's exception.

Nothing here imports a database driver (tests/test_architecture.py checks it).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal, Protocol, TypeVar

Row = dict[str, Any]
T = TypeVar("T")

# Whose status history (SPEC §5: actions and MOCs keep one each).
HistoryKind = Literal["action", "moc"]

# Idempotency-Key records (SPEC §3): `in_progress` (claimed, work not committed) ->
# `applied` (in the work's own transaction) -> `done` (response stored, replayed).
IDEMPOTENCY_RETENTION = timedelta(hours=24)
IN_PROGRESS = "in_progress"
APPLIED = "applied"
DONE = "done"


class UniqueViolation(Exception):
    """A write broke a unique constraint on `column` (e.g. an asset's tag_number)."""

    def __init__(self, column: str) -> None:
        super().__init__(column)
        self.column = column


class BadCursor(ValueError):
    """An `after` value that is not a cursor of this list (a 400 for the caller)."""


@dataclass(frozen=True)
class Window:
    """One page of a list, the list's total, and the cursor to the next page (None at the
    end of the list; only worked out for `after` requests)."""

    rows: list[Row]
    total: int
    next_after: str | None = None


# -- list filters: what a list request asks for, as plain data ------------------------------


@dataclass(frozen=True)
class AssetFilter:
    status: str | None = None
    asset_type: str | None = None
    search: str | None = None
    updated_since: str | None = None


@dataclass(frozen=True)
class ActionFilter:
    status: str | None = None
    priority: str | None = None
    assignee_id: str | None = None
    asset_id: str | None = None
    overdue: bool | None = None
    today: str | None = None  # `YYYY-MM-DD` (UTC) the overdue filter compares with
    updated_since: str | None = None


@dataclass(frozen=True)
class AlertFilter:
    kind: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    updated_since: str | None = None


@dataclass(frozen=True)
class FailureModeFilter:
    asset_id: str | None = None
    rpn_min: int | None = None
    rpn_max: int | None = None
    priority: str | None = None
    action_priority: str | None = None
    updated_since: str | None = None


@dataclass(frozen=True)
class InspectionFilter:
    asset_id: str | None = None
    inspection_type: str | None = None
    status: str | None = None
    # Inclusive bounds on inspection_date, `YYYY-MM-DD` (text order is date order).
    date_from: str | None = None
    date_to: str | None = None
    updated_since: str | None = None


@dataclass(frozen=True)
class MocFilter:
    status: str | None = None
    asset_id: str | None = None
    updated_since: str | None = None


@dataclass(frozen=True)
class RiskAssessmentFilter:
    asset_id: str | None = None
    risk_ranking: str | None = None
    updated_since: str | None = None


# -- stores: one per concern, each method inside the caller's transaction ------------


class ActionStore(Protocol):
    def get_action(self, action_id: str) -> Row | None: ...
    def list_actions(
        self, flt: ActionFilter, *, sort: str | None, limit: int, offset: int
    ) -> tuple[list[Row], int]: ...
    def insert_action(self, action: Row) -> None: ...
    def update_action(self, action_id: str, changes: Row, updated_at: str) -> None: ...
    def set_status(
        self, action_id: str, status: str, updated_at: str, *, reset_escalation: bool = False
    ) -> None: ...
    def asset_of(self, table: str, row_id: str) -> str | None: ...


class AlertStore(Protocol):
    def get_alert(self, alert_id: str) -> Row | None: ...
    def list_alerts(
        self, flt: AlertFilter, *, sort: str | None, limit: int, offset: int
    ) -> tuple[list[Row], int]: ...
    def insert_alert(self, alert: Row) -> bool: ...


class AssetMetricsStore(Protocol):
    def asset_basis(self, asset_id: str) -> Row | None: ...
    def completed_inspections(self, asset_id: str) -> list[Row]: ...
    def newest_risk_ranking(self, asset_id: str) -> str | None: ...
    def store_metrics(self, asset_id: str, metrics: Row, *, updated_at: str) -> bool: ...


class AssetStore(Protocol):
    def count_assets(self, flt: AssetFilter) -> int: ...
    def get_asset(self, asset_id: str) -> Row | None: ...
    def list_assets(
        self,
        flt: AssetFilter,
        *,
        sort: str | None,
        limit: int,
        offset: int,
        after: str | None = None,
    ) -> Window: ...
    def insert_asset(self, asset: Row) -> None: ...
    def update_asset(self, asset_id: str, changes: Row, updated_at: str) -> None: ...
    def tag_exists(self, tag_number: str, except_id: str | None = None) -> bool: ...
    def count_all(self) -> int: ...


class ControlStore(Protocol):
    def insert_tenant(self, tenant: Row) -> None: ...
    def tenant_by_slug(self, slug: str) -> Row | None: ...
    def tenant_by_id(self, tenant_id: str) -> Row | None: ...
    def list_tenants(self) -> list[Row]: ...
    def disable_tenant(self, tenant_id: str, when: str) -> None: ...
    def insert_key(self, key: Row, key_hash: bytes) -> None: ...
    def key_for_auth(self, key_hash: bytes) -> Row | None: ...
    def key_by_id(self, key_id: str, tenant_id: str | None = None) -> Row | None: ...
    def count_keys(self, tenant_id: str) -> int: ...
    def list_keys(self, tenant_id: str, limit: int, offset: int) -> list[Row]: ...
    def revoke_key(self, key_id: str, when: str) -> bool: ...
    def touch_key(self, key_id: str, when: str) -> None: ...
    def remembered(self, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
        """`compute()`, reused while the control data has not changed since (by any
        process): authentication looks a key up once, yet sees a revocation at once."""
        ...


class EventStore(Protocol):
    def insert_event(self, event: Row) -> int: ...
    def count_events(self) -> int: ...
    def list_events(
        self,
        *,
        after: int | None,
        event_type: str | None,
        updated_since: str | None,
        limit: int,
        offset: int,
    ) -> tuple[list[Row], int]: ...


class FailureModeStore(Protocol):
    def get_failure_mode(self, failure_mode_id: str) -> Row | None: ...
    def list_failure_modes(
        self, flt: FailureModeFilter, *, sort: str | None, limit: int, offset: int
    ) -> tuple[list[Row], int]: ...
    def insert_failure_mode(self, row: Row) -> None: ...
    def update_failure_mode(self, failure_mode_id: str, changes: Row, updated_at: str) -> None: ...
    def delete_failure_mode(self, failure_mode_id: str, at: str) -> bool: ...


class HistoryStore(Protocol):
    def append(
        self,
        history: HistoryKind,
        owner_id: str,
        *,
        from_status: str | None,
        to_status: str,
        comment: str | None,
        at: str,
        by: str | None,
    ) -> None: ...
    def for_owner(self, history: HistoryKind, owner_id: str) -> list[Row]: ...
    def for_owners(
        self, history: HistoryKind, owner_ids: Sequence[str]
    ) -> dict[str, list[Row]]: ...


class IdempotencyStore(Protocol):
    def get(self, principal: str, key: str) -> Row | None: ...
    def claim(
        self,
        *,
        principal: str,
        key: str,
        method: str,
        path: str,
        request_hash: bytes,
        created_at: str,
        state: str,
    ) -> None: ...
    def store_response(
        self, principal: str, key: str, *, status: int, headers: str, body: bytes
    ) -> None: ...
    def purge_before(self, cutoff: str) -> int: ...
    def count(self) -> int: ...


class InspectionStore(Protocol):
    def get_inspection(self, inspection_id: str) -> Row | None: ...
    def list_inspections(
        self, flt: InspectionFilter, *, sort: str | None, limit: int, offset: int
    ) -> tuple[list[Row], int]: ...
    def insert_inspection(self, inspection: Row) -> None: ...
    def update_inspection(self, inspection_id: str, changes: Row, updated_at: str) -> None: ...
    def count_all(self) -> int: ...


class MocStore(Protocol):
    def get_moc(self, moc_id: str) -> Row | None: ...
    def list_mocs(
        self, flt: MocFilter, *, sort: str | None, limit: int, offset: int
    ) -> tuple[list[Row], int]: ...
    def insert_moc(self, moc: Row) -> None: ...
    def update_moc(self, moc_id: str, changes: Row, updated_at: str) -> None: ...
    def set_status(self, moc_id: str, status: str, updated_at: str) -> None: ...


class ReferenceStore(Protocol):
    def exists(self, table: str, row_id: str) -> bool: ...


class RiskAssessmentStore(Protocol):
    def get_risk_assessment(self, assessment_id: str) -> Row | None: ...
    def list_risk_assessments(
        self, flt: RiskAssessmentFilter, *, sort: str | None, limit: int, offset: int
    ) -> tuple[list[Row], int]: ...
    def insert_risk_assessment(self, row: Row) -> None: ...
    def update_risk_assessment(self, assessment_id: str, changes: Row, updated_at: str) -> None: ...


class SlaStore(Protocol):
    def actions_owed_escalation(
        self, *, cutoffs: Sequence[str], open_statuses: Sequence[str], limit: int
    ) -> list[Row]: ...
    def set_escalation_level(self, action_id: str, level: int) -> bool: ...
    def refresh_alert(self, alert: Row) -> str | None: ...


class WebhookStore(Protocol):
    def insert_webhook(self, hook: Row) -> None: ...
    def get_webhook(self, webhook_id: str) -> Row | None: ...
    def current_webhook(self, webhook_id: str) -> Row | None: ...
    def list_webhooks(self, *, limit: int, offset: int) -> tuple[list[Row], int]: ...
    def update_webhook(self, webhook_id: str, changes: Row, updated_at: str) -> None: ...
    def delete_webhook(self, webhook_id: str) -> bool: ...
    def subscribers(self, event_type: str) -> list[str]: ...
    def count_failure(self, webhook_id: str, failed: bool) -> int: ...
    def insert_delivery(self, delivery: Row) -> None: ...
    def get_delivery(self, delivery_id: str) -> Row | None: ...
    def list_deliveries(
        self, webhook_id: str, *, status: str | None, limit: int, offset: int
    ) -> tuple[list[Row], int]: ...
    def attempts_of(self, delivery_ids: list[str]) -> dict[str, list[Row]]: ...
    def claim_due(
        self,
        *,
        owner: str,
        now: str,
        lease_until: str,
        limit: int,
        skip_webhooks: Sequence[str] = (),
    ) -> list[Row]: ...
    def event_rows(self, event_ids: Sequence[int]) -> dict[int, Row]: ...
    def event_row(self, event_id: int) -> Row | None: ...
    def record_attempt(self, attempt: Row) -> None: ...
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
    ) -> bool: ...
    def requeue(self, delivery_id: str, now: str) -> None: ...
    def purge_before(self, cutoff: str) -> tuple[int, int]: ...
    def release(self, delivery_ids: Sequence[str], *, owner: str) -> None: ...


# -- transaction handles and databases ----------------------------------------------------


class TenantTx(Protocol):
    """One transaction on one tenant's data: a store per concern."""

    @property
    def actions(self) -> ActionStore: ...
    @property
    def alerts(self) -> AlertStore: ...
    @property
    def asset_metrics(self) -> AssetMetricsStore: ...
    @property
    def assets(self) -> AssetStore: ...
    @property
    def events(self) -> EventStore: ...
    @property
    def failure_modes(self) -> FailureModeStore: ...
    @property
    def history(self) -> HistoryStore: ...
    @property
    def idempotency(self) -> IdempotencyStore: ...
    @property
    def inspections(self) -> InspectionStore: ...
    @property
    def mocs(self) -> MocStore: ...
    @property
    def references(self) -> ReferenceStore: ...
    @property
    def risk_assessments(self) -> RiskAssessmentStore: ...
    @property
    def sla(self) -> SlaStore: ...
    @property
    def webhooks(self) -> WebhookStore: ...
    def savepoint(self) -> AbstractContextManager[None]:
        """A nested unit inside this transaction: an exception rolls back only its writes."""
        ...


class ControlTx(Protocol):
    """One transaction on the control data: tenants and API keys."""

    @property
    def control(self) -> ControlStore: ...


class TenantDb(Protocol):
    """One tenant's data. `fn` runs inside one transaction; its exception rolls back only
    its own writes and is re-raised here."""

    def read(self, fn: Callable[[TenantTx], T], *, snapshot: bool = True) -> Awaitable[T]: ...
    def write(self, fn: Callable[[TenantTx], T], *, linger: float = 0.0) -> Awaitable[T]:
        """Run `fn` in a write transaction; the awaitable resolves after COMMIT.

        `linger` (seconds) allows the backend to hold the work back that long so that
        more work shares its transaction (one commit, one fsync, for the scheduler's many
        small delivery results). A backend may honour it or ignore it; with 0, the default
        and what every request uses, the work is never held back for others.
        """
        ...

    def ping(self) -> Awaitable[None]: ...


class TenantDirectory(Protocol):
    """The only way from a tenant id to its data (SPEC §1: isolation by construction)."""

    async def get(self, tenant_id: str) -> TenantDb: ...
    def opened(self) -> Mapping[str, TenantDb]:
        """The tenants' databases opened so far (readiness checks, housekeeping)."""
        ...


class ControlDb(Protocol):
    """The control data (tenants, API keys), shared by every tenant."""

    def read(self, fn: Callable[[ControlTx], T], *, snapshot: bool = True) -> Awaitable[T]: ...
    def write(self, fn: Callable[[ControlTx], T]) -> Awaitable[T]: ...
    def ping(self) -> Awaitable[None]: ...
