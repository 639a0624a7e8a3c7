"""PostgreSQL transaction handles: the stores of `ports` over one cursor.

A handle is made for each unit of work (`PgDatabase.read`/`write`) and lives only as long as
it; each store is made on first use (`cached_property`), exactly like storage/transactions.py.
A store is `Pg<Thing>(cur, tenant_id)`, `cur` a psycopg cursor with `dict_row`.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from functools import cached_property

from reliatic_appliance.storage.postgresql.actions import PgActions
from reliatic_appliance.storage.postgresql.alerts import PgAlerts
from reliatic_appliance.storage.postgresql.asset_metrics import PgAssetMetrics
from reliatic_appliance.storage.postgresql.assets import PgAssets
from reliatic_appliance.storage.postgresql.audit import PgAudit
from reliatic_appliance.storage.postgresql.control import PgControl
from reliatic_appliance.storage.postgresql.database import Cursor, Memo
from reliatic_appliance.storage.postgresql.events import PgEvents
from reliatic_appliance.storage.postgresql.failure_modes import PgFailureModes
from reliatic_appliance.storage.postgresql.history import PgHistory
from reliatic_appliance.storage.postgresql.idempotency import PgIdempotency
from reliatic_appliance.storage.postgresql.inspections import PgInspections
from reliatic_appliance.storage.postgresql.mocs import PgMocs
from reliatic_appliance.storage.postgresql.overview import PgOverview
from reliatic_appliance.storage.postgresql.references import PgReferences
from reliatic_appliance.storage.postgresql.risk_assessments import PgRiskAssessments
from reliatic_appliance.storage.postgresql.sla import PgSla
from reliatic_appliance.storage.postgresql.users import PgInvitations, PgSessions, PgUsers
from reliatic_appliance.storage.postgresql.webhooks import PgWebhooks


class PgTenantTx:
    """`ports.TenantTx` for one tenant (`app.tenant_id` is already set to it)."""

    def __init__(self, cur: Cursor, tenant_id: str) -> None:
        self.cur = cur
        self.tenant_id = tenant_id
        self._savepoints = itertools.count(1)

    @cached_property
    def asset_metrics(self) -> PgAssetMetrics:
        return PgAssetMetrics(self.cur, self.tenant_id)

    @cached_property
    def assets(self) -> PgAssets:
        return PgAssets(self.cur, self.tenant_id)

    @cached_property
    def audit(self) -> PgAudit:
        return PgAudit(self.cur, self.tenant_id)

    @cached_property
    def overview(self) -> PgOverview:
        return PgOverview(self.cur, self.tenant_id)

    @cached_property
    def references(self) -> PgReferences:
        return PgReferences(self.cur, self.tenant_id)

    @cached_property
    def events(self) -> PgEvents:
        return PgEvents(self.cur, self.tenant_id)

    @cached_property
    def idempotency(self) -> PgIdempotency:
        return PgIdempotency(self.cur, self.tenant_id)

    @cached_property
    def webhooks(self) -> PgWebhooks:
        return PgWebhooks(self.cur, self.tenant_id)

    @cached_property
    def actions(self) -> PgActions:
        return PgActions(self.cur, self.tenant_id)

    @cached_property
    def alerts(self) -> PgAlerts:
        return PgAlerts(self.cur, self.tenant_id)

    @cached_property
    def failure_modes(self) -> PgFailureModes:
        return PgFailureModes(self.cur, self.tenant_id)

    @cached_property
    def history(self) -> PgHistory:
        return PgHistory(self.cur, self.tenant_id)

    @cached_property
    def inspections(self) -> PgInspections:
        return PgInspections(self.cur, self.tenant_id)

    @cached_property
    def mocs(self) -> PgMocs:
        return PgMocs(self.cur, self.tenant_id)

    @cached_property
    def risk_assessments(self) -> PgRiskAssessments:
        return PgRiskAssessments(self.cur, self.tenant_id)

    @cached_property
    def sla(self) -> PgSla:
        return PgSla(self.cur, self.tenant_id)

    @contextlib.contextmanager
    def savepoint(self) -> Iterator[None]:
        name = f"sp_{next(self._savepoints)}"  # ours, never input
        self.cur.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            self.cur.execute(f"ROLLBACK TO SAVEPOINT {name}")
            self.cur.execute(f"RELEASE SAVEPOINT {name}")
            raise
        self.cur.execute(f"RELEASE SAVEPOINT {name}")


class PgControlTx:
    """`ports.ControlTx`: tenants, API keys, users, sessions, invitations, control audit."""

    def __init__(self, cur: Cursor, memo: Memo | None = None) -> None:
        self.cur = cur
        self.memo = memo

    @cached_property
    def control(self) -> PgControl:
        return PgControl(self.cur, self.memo)

    @cached_property
    def users(self) -> PgUsers:
        return PgUsers(self.cur)

    @cached_property
    def sessions(self) -> PgSessions:
        return PgSessions(self.cur)

    @cached_property
    def invitations(self) -> PgInvitations:
        return PgInvitations(self.cur)

    def audit(self, tenant_id: str) -> PgAudit:
        return PgAudit(self.cur, tenant_id, control=True)
