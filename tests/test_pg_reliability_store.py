"""The PostgreSQL reliability stores give the SQLite backend's answers (issue 15).

The same inspections, failure modes, actions, risk assessments, MOCs, histories and alerts go
into a SQLite tenant file and a PostgreSQL tenant through the same store calls; then every
read is asked of both and must be equal: single rows, every list filter, every sort both
ways and page by page (NULLs in the nullable sort columns, ties), histories, the SLA queries.
Equal means the same keys, the same value types and the same strings (timestamps, dates).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reliatic_appliance.domain.lifecycle import OPEN_ACTION_STATUSES
from reliatic_appliance.ports import (
    ACTION_SORTABLE,
    ALERT_SORTABLE,
    FAILURE_MODE_SORTABLE,
    INSPECTION_SORTABLE,
    MOC_SORTABLE,
    RISK_ASSESSMENT_SORTABLE,
    ActionFilter,
    AlertFilter,
    FailureModeFilter,
    InspectionFilter,
    MocFilter,
    RiskAssessmentFilter,
    TenantTx,
)
from reliatic_appliance.storage import migrate as sqlite_migrate
from reliatic_appliance.storage.assets import COLUMNS as ASSET_COLUMNS
from reliatic_appliance.storage.sqlite import connect
from reliatic_appliance.storage.transactions import SqliteTenantTx

psycopg = pytest.importorskip("psycopg")

from psycopg.rows import dict_row  # noqa: E402

from reliatic_appliance.storage.postgresql import types  # noqa: E402
from reliatic_appliance.storage.postgresql.transactions import PgTenantTx  # noqa: E402
from tests.pg_cluster import PgCluster  # noqa: E402

pytestmark = pytest.mark.postgresql_only

TENANT = "ten_RELIABILITYSTORE"
ASSETS = ["ast_A", "ast_B", "ast_C"]
N = 23


def at(n: int) -> str:
    # Ties on purpose: only 4 distinct instants for N rows.
    return f"2026-03-0{1 + n % 4}T10:00:00.{n % 2:06d}Z"


@pytest.fixture(scope="module")
def pg_dsn(pg_cluster: PgCluster) -> Iterator[str]:
    """A migrated database of the session's cluster, as the server's role (RLS applies)."""
    database = pg_cluster.clone()
    try:
        yield database.dsn
    finally:
        pg_cluster.drop(database)


@pytest.fixture
def both(tmp_path: Path, pg_dsn: str) -> Iterator[tuple[SqliteTenantTx, PgTenantTx]]:
    conn = connect(tmp_path / "tenant.db")
    sqlite_migrate.apply_migrations(conn, "tenant")
    pg = psycopg.connect(pg_dsn)
    types.configure(pg)
    cur = pg.cursor(row_factory=dict_row)
    cur.execute("BEGIN")
    cur.execute("SELECT set_config('app.tenant_id', %s, true)", (TENANT,))
    try:
        sqlite_tx, pg_tx = SqliteTenantTx(conn), PgTenantTx(cur, TENANT)
        conn.execute("BEGIN")
        for tx in (sqlite_tx, pg_tx):
            _fill(tx)
        yield sqlite_tx, pg_tx
    finally:
        cur.execute("ROLLBACK")
        pg.close()
        conn.execute("ROLLBACK")
        conn.close()


def _fill(tx: TenantTx) -> None:
    for n, asset_id in enumerate(ASSETS):
        asset: dict[str, Any] = dict.fromkeys(ASSET_COLUMNS)
        asset |= {"id": asset_id, "tag_number": f"V-{n}", "name": "Vessel", "asset_type": "vessel"}
        asset |= {"status": "active", "created_at": at(n), "updated_at": at(n)}
        tx.assets.insert_asset(asset)
    for n in range(N):
        asset_id = ASSETS[n % 3]
        tx.inspections.insert_inspection(
            {
                "id": f"ins_{n:03d}",
                "asset_id": asset_id,
                "inspection_type": ["ut_spot", "external_visual", "ut_scanning"][n % 3],
                "inspection_date": f"2025-{1 + n % 12:02d}-{1 + n % 5:02d}",
                "inspector_name": "J. Inspector",
                "coverage_percent": [None, 50, 12.5, 100.0][n % 4],
                "status": "draft" if n % 5 == 0 else "completed",
                "findings": None if n % 2 else "wall loss",
                "min_measured_thickness_mm": None if n % 3 == 0 else 9.75 - n / 8,
                "effectiveness": "C",
                "created_at": at(n),
                "updated_at": at(n + 1),
            }
        )
        s, o, d = 1 + n % 10, 1 + (n * 3) % 10, 1 + (n * 7) % 10
        tx.failure_modes.insert_failure_mode(
            {
                "id": f"fm_{n:03d}",
                "asset_id": asset_id,
                "description": "Corrosion under insulation",
                "severity": s,
                "occurrence": o,
                "detection": d,
                "rpn": s * o * d,
                "priority": "high" if s * o * d >= 200 else "low",
                "action_priority": "HML"[n % 3],
                "failure_mechanism": None,
                "effect": "leak" if n % 2 else None,
                "cause": None,
                "current_controls": None,
                "created_at": at(n),
                "updated_at": at(n),
            }
        )
        tx.actions.insert_action(
            {
                "id": f"act_{n:03d}",
                "title": f"Action {n}",
                "description": None,
                "priority": ["low", "medium", "high", "critical"][n % 4],
                "status": "open",
                "asset_id": None if n % 4 == 0 else asset_id,
                "failure_mode_id": f"fm_{n:03d}" if n % 2 else None,
                "inspection_id": f"ins_{n:03d}" if n % 3 == 0 else None,
                "assignee_id": "usr_1" if n % 2 else None,
                "due_date": None if n % 5 == 0 else f"2026-0{1 + n % 4}-1{n % 10}",
                "created_at": at(n),
                "updated_at": at(n),
            }
        )
        if n % 3:
            tx.actions.set_status(f"act_{n:03d}", ["in_progress", "closed"][n % 2], at(n + 2))
            tx.history.append(
                "action",
                f"act_{n:03d}",
                from_status="open",
                to_status="in_progress",
                comment=None if n % 2 else "go",
                at=at(n + 2),
                by="key_1",
            )
        tx.history.append(
            "action", f"act_{n:03d}", from_status=None, to_status="open", comment=None,
            at=at(n), by=None,
        )  # fmt: skip
        tx.risk_assessments.insert_risk_assessment(
            {
                "id": f"ra_{n:03d}",
                "asset_id": asset_id,
                "probability_of_failure": 1 + n % 5,
                "consequence_of_failure": 1 + (n * 2) % 5,
                "risk_score": (1 + n % 5) * (1 + (n * 2) % 5),
                "risk_ranking": ["low", "medium", "medium_high", "high"][n % 4],
                "assessed_by": None,
                "assessment_date": f"2026-02-{1 + n % 3:02d}",
                "damage_mechanisms": "thinning" if n % 2 else None,
                "notes": None,
                "created_at": at(n),
                "updated_at": at(n),
            }
        )
        tx.mocs.insert_moc(
            {
                "id": f"moc_{n:03d}",
                "title": f"MOC {n}",
                "description": None,
                "asset_id": None if n % 2 else asset_id,
                "requested_by": "ops",
                "status": "draft",
                "created_at": at(n),
                "updated_at": at(n),
            }
        )
        tx.history.append(
            "moc", f"moc_{n:03d}", from_status=None, to_status="draft", comment=None,
            at=at(n), by="usr_2",
        )  # fmt: skip
        tx.alerts.insert_alert(
            {
                "id": f"alr_{n:03d}",
                "kind": "sla_escalation" if n % 4 else "webhook_disabled",
                "severity": "warning",
                "resource_type": "action" if n % 4 else "webhook",
                "resource_id": f"act_{n // 3:03d}",
                "level": None if n % 4 == 0 else 1 + n % 3,
                "message": f"Alert {n}",
                "created_at": at(n),
            }
        )
    tx.inspections.update_inspection("ins_004", {"findings": "pitting"}, at(9))
    tx.failure_modes.update_failure_mode("fm_005", {"severity": 9, "rpn": 9 * 6 * 6}, at(9))
    tx.actions.update_action("act_007", {"assignee_id": "usr_9", "due_date": None}, at(9))
    tx.risk_assessments.update_risk_assessment("ra_002", {"notes": "checked"}, at(9))
    tx.mocs.update_moc("moc_003", {"title": "Renamed"}, at(9))
    tx.mocs.set_status("moc_003", "submitted", at(10))
    assert tx.failure_modes.delete_failure_mode("fm_001", at(11))


def _same(both: tuple[TenantTx, TenantTx], store: str, method: str, *args: Any, **kw: Any) -> Any:
    """`tx.<store>.<method>(*args, **kw)` on both backends: equal answers, PostgreSQL's back."""
    sqlite_answer, pg_answer = (getattr(getattr(tx, store), method)(*args, **kw) for tx in both)
    assert pg_answer == sqlite_answer, (store, method, args, kw)
    return pg_answer


def _pages(
    both: tuple[TenantTx, TenantTx], store: str, method: str, flt: Any, sortable: Any
) -> None:
    """Every sort both ways, page by page past the end: equal rows and totals."""
    for sort in [None, *sortable, *(f"-{c}" for c in sortable)]:
        for offset in (0, 7, 14, 21):
            _same(both, store, method, flt, sort=sort, limit=7, offset=offset)


def test_single_rows_are_equal(both: tuple[TenantTx, TenantTx]) -> None:
    for n in range(N):
        assert _same(both, "inspections", "get_inspection", f"ins_{n:03d}") is not None
        _same(both, "failure_modes", "get_failure_mode", f"fm_{n:03d}")
        assert _same(both, "actions", "get_action", f"act_{n:03d}") is not None
        _same(both, "risk_assessments", "get_risk_assessment", f"ra_{n:03d}")
        _same(both, "mocs", "get_moc", f"moc_{n:03d}")
        _same(both, "alerts", "get_alert", f"alr_{n:03d}")
    assert _same(both, "failure_modes", "get_failure_mode", "fm_001") is None
    assert _same(both, "actions", "get_action", "act_001")["failure_mode_id"] is None
    assert (
        _same(
            both,
            "inspections",
            "count_all",
        )
        == N
    )
    _same(both, "actions", "asset_of", "inspections", "ins_003")
    _same(both, "actions", "asset_of", "failure_modes", "fm_001")


def test_every_list_filter_and_sort_is_equal(both: tuple[TenantTx, TenantTx]) -> None:
    for store, method, flt in (
        ("inspections", "list_inspections", InspectionFilter(status="completed")),
        ("failure_modes", "list_failure_modes", FailureModeFilter(rpn_min=50)),
        ("actions", "list_actions", ActionFilter(overdue=True, today="2026-03-15")),
        ("mocs", "list_mocs", MocFilter(asset_id="ast_A")),
        ("alerts", "list_alerts", AlertFilter(kind="sla_escalation")),
    ):  # the filters below select something, not nothing on both sides
        assert 0 < _same(both, store, method, flt, sort=None, limit=100, offset=0)[1] < N
    inspections = [
        InspectionFilter(),
        InspectionFilter(asset_id="ast_B", status="completed"),
        InspectionFilter(inspection_type="ut_spot", date_from="2025-03-01", date_to="2025-09-03"),
        InspectionFilter(updated_since="2026-03-03T00:00:00Z"),
    ]
    for flt in inspections:
        _pages(both, "inspections", "list_inspections", flt, INSPECTION_SORTABLE)
    for fm_flt in (
        FailureModeFilter(),
        FailureModeFilter(rpn_min=50, rpn_max=400, asset_id="ast_A"),
        FailureModeFilter(priority="high", action_priority="H"),
    ):
        _pages(both, "failure_modes", "list_failure_modes", fm_flt, FAILURE_MODE_SORTABLE)
    for action_flt in (
        ActionFilter(),
        ActionFilter(status="in_progress", priority="high"),
        ActionFilter(assignee_id="usr_1", asset_id="ast_B"),
        ActionFilter(overdue=True, today="2026-03-15"),
        ActionFilter(overdue=False, today="2026-03-15"),
        ActionFilter(updated_since="2026-03-02T10:00:00.000001Z"),
    ):
        _pages(both, "actions", "list_actions", action_flt, ACTION_SORTABLE)
    for ra_flt in (
        RiskAssessmentFilter(),
        RiskAssessmentFilter(asset_id="ast_C", risk_ranking="high"),
    ):
        _pages(both, "risk_assessments", "list_risk_assessments", ra_flt, RISK_ASSESSMENT_SORTABLE)
    for moc_flt in (MocFilter(), MocFilter(status="submitted"), MocFilter(asset_id="ast_A")):
        _pages(both, "mocs", "list_mocs", moc_flt, MOC_SORTABLE)
    for alert_flt in (
        AlertFilter(),
        AlertFilter(kind="sla_escalation", resource_type="action"),
        AlertFilter(resource_id="act_002"),
    ):
        _pages(both, "alerts", "list_alerts", alert_flt, ALERT_SORTABLE)


def test_histories_are_equal(both: tuple[TenantTx, TenantTx]) -> None:
    for n in range(N):
        assert _same(both, "history", "for_owner", "action", f"act_{n:03d}")
        assert _same(both, "history", "for_owner", "moc", f"moc_{n:03d}")
    ids = [f"act_{n:03d}" for n in range(N)] + ["act_missing"]
    _same(both, "history", "for_owners", "action", ids)
    _same(both, "history", "for_owners", "moc", ["moc_001", "moc_000"])
    assert _same(both, "history", "for_owners", "moc", []) == {}


def test_sla_reads_and_writes_are_equal(both: tuple[TenantTx, TenantTx]) -> None:
    cutoffs = ["2026-03-15", "2026-03-09", "2026-02-14"]

    owed = ("sla", "actions_owed_escalation")
    kw = {"cutoffs": cutoffs, "open_statuses": OPEN_ACTION_STATUSES, "limit": 100}
    first = _same(both, *owed, **kw)
    assert first and all(a["escalation_level"] == 0 for a in first)
    assert _same(both, "sla", "set_escalation_level", first[0]["id"], 3) is True
    assert _same(both, "sla", "set_escalation_level", first[0]["id"], 2) is False
    assert first[0]["id"] not in {a["id"] for a in _same(both, *owed, **kw)}
    alert = {
        "id": "alr_new",
        "kind": "sla_escalation",
        "severity": "critical",
        "resource_type": "action",
        "resource_id": "act_000",  # alr_002's (kind, resource, level): 2 // 3, 1 + 2 % 3
        "level": 3,
        "message": "again",
        "created_at": "2026-04-01T00:00:00.000000Z",
    }
    assert _same(both, "alerts", "insert_alert", alert) is False
    assert _same(both, "sla", "refresh_alert", alert) == "alr_002"
    assert _same(both, "sla", "refresh_alert", {**alert, "level": 9}) is None
    _same(both, "alerts", "get_alert", "alr_002")
    level_less = {**alert, "id": "alr_nolevel", "level": None, "kind": "webhook_disabled"}
    assert _same(both, "alerts", "insert_alert", level_less) is True
    assert _same(both, "alerts", "insert_alert", {**level_less, "id": "alr_2"}) is True
