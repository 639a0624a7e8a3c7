"""SQLite transaction handles: the stores of `ports` over one open connection.

A handle is made for each unit of work (`Database.read`/`write`) and lives only as long as
it; each store is made on first use, so a unit of work pays only for the stores it touches.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from functools import cached_property

import apsw

from reliatic_appliance.storage.actions import SqliteActions
from reliatic_appliance.storage.alerts import SqliteAlerts
from reliatic_appliance.storage.asset_metrics import SqliteAssetMetrics
from reliatic_appliance.storage.assets import SqliteAssets
from reliatic_appliance.storage.audit import SqliteAudit
from reliatic_appliance.storage.control import SqliteControl
from reliatic_appliance.storage.events import SqliteEvents
from reliatic_appliance.storage.failure_modes import SqliteFailureModes
from reliatic_appliance.storage.history import SqliteHistory
from reliatic_appliance.storage.idempotency import SqliteIdempotency
from reliatic_appliance.storage.inspections import SqliteInspections
from reliatic_appliance.storage.mocs import SqliteMocs
from reliatic_appliance.storage.references import SqliteReferences
from reliatic_appliance.storage.risk_assessments import SqliteRiskAssessments
from reliatic_appliance.storage.sla import SqliteSla
from reliatic_appliance.storage.webhooks import SqliteWebhooks


class SqliteTenantTx:
    """`ports.TenantTx` over a connection to one tenant's file."""

    def __init__(self, conn: apsw.Connection) -> None:
        self.conn = conn

    @cached_property
    def actions(self) -> SqliteActions:
        return SqliteActions(self.conn)

    @cached_property
    def alerts(self) -> SqliteAlerts:
        return SqliteAlerts(self.conn)

    @cached_property
    def asset_metrics(self) -> SqliteAssetMetrics:
        return SqliteAssetMetrics(self.conn)

    @cached_property
    def assets(self) -> SqliteAssets:
        return SqliteAssets(self.conn)

    @cached_property
    def audit(self) -> SqliteAudit:
        return SqliteAudit(self.conn)

    @cached_property
    def events(self) -> SqliteEvents:
        return SqliteEvents(self.conn)

    @cached_property
    def failure_modes(self) -> SqliteFailureModes:
        return SqliteFailureModes(self.conn)

    @cached_property
    def history(self) -> SqliteHistory:
        return SqliteHistory(self.conn)

    @cached_property
    def idempotency(self) -> SqliteIdempotency:
        return SqliteIdempotency(self.conn)

    @cached_property
    def inspections(self) -> SqliteInspections:
        return SqliteInspections(self.conn)

    @cached_property
    def mocs(self) -> SqliteMocs:
        return SqliteMocs(self.conn)

    @cached_property
    def references(self) -> SqliteReferences:
        return SqliteReferences(self.conn)

    @cached_property
    def risk_assessments(self) -> SqliteRiskAssessments:
        return SqliteRiskAssessments(self.conn)

    @cached_property
    def sla(self) -> SqliteSla:
        return SqliteSla(self.conn)

    @cached_property
    def webhooks(self) -> SqliteWebhooks:
        return SqliteWebhooks(self.conn)

    @contextlib.contextmanager
    def savepoint(self) -> Iterator[None]:
        with self.conn:  # apsw: a connection as a context manager is a SAVEPOINT
            yield


class SqliteControlTx:
    """`ports.ControlTx` over a connection to control.db."""

    def __init__(self, conn: apsw.Connection) -> None:
        self.conn = conn

    @cached_property
    def control(self) -> SqliteControl:
        return SqliteControl(self.conn)

    def audit(self, tenant_id: str) -> SqliteAudit:
        return SqliteAudit(self.conn, tenant_id)
