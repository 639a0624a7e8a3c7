"""The storage interface ("ports"): what the services may ask of a database (SPEC §11).

Services depend on these `Protocol`s only; a backend implements them. The SQLite backend
(`storage/`: `sqlite.py`, `transactions.py` and one module of SQL per resource) is the
only one today; a PostgreSQL backend implements the same protocols, so it is an addition,
not a rewrite. `ports.lists` holds what a list asks for (filters, sortable fields) and
gets back; `ports.stores` the store protocols; this module the transactions and databases
and re-exports the rest, so `from reliatic_appliance.ports import X` is all a caller needs.

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

from collections.abc import Awaitable, Callable, Collection, Mapping
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Protocol, TypeVar

from reliatic_appliance.ports.lists import (
    ACTION_SORTABLE,
    ALERT_SORTABLE,
    ASSET_SORTABLE,
    AUDIT_SORTABLE,
    FAILURE_MODE_SORTABLE,
    INSPECTION_SORTABLE,
    MOC_SORTABLE,
    RISK_ASSESSMENT_SORTABLE,
    ActionFilter,
    AlertFilter,
    AssetFilter,
    AuditFilter,
    BadCursor,
    FailureModeFilter,
    InspectionFilter,
    MocFilter,
    RiskAssessmentFilter,
    Row,
    Window,
)
from reliatic_appliance.ports.stores import (
    ActionStore,
    AlertStore,
    AssetMetricsStore,
    AssetStore,
    AuditStore,
    ControlStore,
    EventStore,
    FailureModeStore,
    HistoryKind,
    HistoryStore,
    IdempotencyStore,
    InspectionStore,
    InvitationStore,
    MocStore,
    OverviewStore,
    ReferenceStore,
    RiskAssessmentStore,
    SessionStore,
    SlaStore,
    UserStore,
    WebhookStore,
)

T = TypeVar("T")

__all__ = [
    "ACTION_SORTABLE",
    "ALERT_SORTABLE",
    "APPLIED",
    "ASSET_SORTABLE",
    "AUDIT_SORTABLE",
    "DONE",
    "FAILURE_MODE_SORTABLE",
    "IDEMPOTENCY_RETENTION",
    "INSPECTION_SORTABLE",
    "IN_PROGRESS",
    "MOC_SORTABLE",
    "RISK_ASSESSMENT_SORTABLE",
    "ActionFilter",
    "ActionStore",
    "AlertFilter",
    "AlertStore",
    "AssetFilter",
    "AssetMetricsStore",
    "AssetStore",
    "AuditFilter",
    "AuditStore",
    "BadCursor",
    "ControlDb",
    "ControlStore",
    "ControlTx",
    "EventStore",
    "FailureModeFilter",
    "FailureModeStore",
    "HistoryKind",
    "HistoryStore",
    "IdempotencyStore",
    "InspectionFilter",
    "InspectionStore",
    "InvitationStore",
    "MocFilter",
    "MocStore",
    "OverviewStore",
    "ReferenceStore",
    "RiskAssessmentFilter",
    "RiskAssessmentStore",
    "Row",
    "SessionStore",
    "SlaStore",
    "TenantDb",
    "TenantDirectory",
    "TenantTx",
    "UniqueViolation",
    "UserStore",
    "WebhookStore",
    "Window",
]

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
    def audit(self) -> AuditStore: ...
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
    def overview(self) -> OverviewStore: ...
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
    """One transaction on the control data: tenants, API keys, users and their sessions."""

    @property
    def control(self) -> ControlStore: ...
    @property
    def users(self) -> UserStore: ...
    @property
    def sessions(self) -> SessionStore: ...
    @property
    def invitations(self) -> InvitationStore: ...
    def audit(self, tenant_id: str) -> AuditStore:
        """The audit chain of one tenant's acts on control data."""
        ...


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

    def close_removed(self, tenant_ids: Collection[str]) -> None:
        """Close the opened databases of these tenants, whose rows are gone (`reliatic
        selftest` removes its throwaway tenant while the server runs)."""
        ...


class ControlDb(Protocol):
    """The control data (tenants, API keys), shared by every tenant."""

    def read(self, fn: Callable[[ControlTx], T], *, snapshot: bool = True) -> Awaitable[T]: ...
    def write(self, fn: Callable[[ControlTx], T]) -> Awaitable[T]: ...
    def ping(self) -> Awaitable[None]: ...
    def provision_tenant(self, tenant_id: str) -> Awaitable[None]:
        """Make a new tenant's own storage, before its row is written (SQLite: its file,
        migrated; PostgreSQL: nothing, one schema holds every tenant)."""
        ...

    def discard_tenant(self, tenant_id: str) -> Awaitable[None]:
        """Remove the data of a tenant whose row is gone or was never written (SQLite: its
        file; PostgreSQL: its rows in every tenant table)."""
        ...
