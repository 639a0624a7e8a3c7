"""Corrective actions (SPEC §5 Actions, §6 lifecycle): rules, one transaction per write.

Fields change by a partial PUT; the status changes only through the state machine
(`services/lifecycle.py`), which keeps the history and emits `action.status_changed`.
Creating or editing an action emits nothing: §7 has no event type for it.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Collection
from typing import Any

from reliatic_appliance.domain.lifecycle import OPEN_ACTION_STATUSES
from reliatic_appliance.errors import ValidationError
from reliatic_appliance.ids import new_id
from reliatic_appliance.ports import ActionFilter, TenantDb, TenantTx
from reliatic_appliance.services import lifecycle
from reliatic_appliance.services.paging import Page, PageRequest, read_page
from reliatic_appliance.services.references import require
from reliatic_appliance.services.values import to_storage
from reliatic_appliance.timefmt import format_ts

Row = dict[str, Any]
INITIAL_STATUS = "open"  # SPEC §5: new actions are open

# Body fields naming other rows of the tenant: (field, table).
_REFERENCES: tuple[tuple[str, str], ...] = (
    ("asset_id", "assets"),
    ("failure_mode_id", "failure_modes"),
    ("inspection_id", "inspections"),
)


def _write_status(tx: TenantTx, action_id: str, current: str, target: str, at: str) -> None:
    # Rework (completed -> in_progress) makes a finished action open again: its SLA levels
    # start over, so an overdue reworked action is escalated afresh (SPEC §7).
    reopened = target in OPEN_ACTION_STATUSES and current not in OPEN_ACTION_STATUSES
    tx.actions.set_status(action_id, target, at, reset_escalation=reopened)


LIFECYCLE = lifecycle.Lifecycle(
    machine="action",
    noun="action",
    resource_type="action",
    event_type="action.status_changed",
    history="action",
    load=lambda tx, action_id: tx.actions.get_action(action_id),
    write_status=_write_status,
)


def _check_references(tx: TenantTx, action: Row, sent: Collection[str]) -> None:
    """Referenced rows exist in this tenant, and a failure mode or inspection the action
    names belongs to the action's asset (else the action would point at two machines)."""
    for field, table in _REFERENCES:
        if field in sent:
            require(tx, table, action.get(field), field)
    asset_id = action.get("asset_id")
    if asset_id is None:
        return
    for field, table in _REFERENCES[1:]:
        row_id = action.get(field)
        if row_id is None or not ({"asset_id", field} & set(sent)):
            continue
        if tx.actions.asset_of(table, row_id) != asset_id:
            raise ValidationError.field(field, "belongs to a different asset than asset_id")


async def list_actions(
    db: TenantDb,
    flt: ActionFilter,
    sort: str | None,
    page: PageRequest,
    *,
    now: datetime.datetime,
) -> Page:
    if flt.overdue is not None:
        # Due dates are plant calendar dates compared with today's date in UTC (SPEC §3).
        flt = dataclasses.replace(flt, today=now.date().isoformat())

    return await read_page(
        db,
        lambda tx, limit, offset: tx.actions.list_actions(
            flt, sort=sort, limit=limit, offset=offset
        ),
        page,
        lambda tx, rows: lifecycle.with_histories(tx, LIFECYCLE, rows),
    )


def load_action(tx: TenantTx, action_id: str) -> Row:
    """The representation a GET returns (with its history); 404 if none."""
    return lifecycle.get(tx, LIFECYCLE, action_id)


async def get_action(db: TenantDb, action_id: str) -> Row:
    return await db.read(lambda tx: load_action(tx, action_id))


async def create_action(
    db: TenantDb, values: dict[str, Any], *, actor: str | None, now: datetime.datetime
) -> Row:
    """Insert an `open` action; its history starts with `{"from": null, "to": "open"}`."""
    action = to_storage(values)

    def write(tx: TenantTx) -> Row:
        _check_references(tx, action, action.keys())
        at = format_ts(now)
        action_id = new_id("act")
        tx.actions.insert_action(
            {
                **action,
                "id": action_id,
                "status": INITIAL_STATUS,
                "created_at": at,
                "updated_at": at,
            },
        )
        lifecycle.record_creation(tx, LIFECYCLE, action_id, INITIAL_STATUS, actor=actor, at=at)
        return lifecycle.get(tx, LIFECYCLE, action_id)

    return await db.write(write)


async def update_action(
    db: TenantDb,
    action_id: str,
    changes: dict[str, Any],
    *,
    actor: str | None,
    now: datetime.datetime,
) -> Row:
    """Apply a partial update of the non-status fields; a no-op changes nothing."""
    changes = to_storage(changes)

    def write(tx: TenantTx) -> Row:
        before = lifecycle.get(tx, LIFECYCLE, action_id)
        changed = {k: v for k, v in changes.items() if before.get(k) != v}
        if not changed:
            return before
        lifecycle.require_editable(LIFECYCLE, before)
        _check_references(tx, {**before, **changed}, changed.keys())
        tx.actions.update_action(action_id, changed, format_ts(now))
        return lifecycle.get(tx, LIFECYCLE, action_id)

    return await db.write(write)


async def change_status(
    db: TenantDb,
    action_id: str,
    target: str,
    comment: str | None,
    *,
    actor: str | None,
    now: datetime.datetime,
) -> Row:
    """One step of the §6 action lifecycle; 409 with the allowed next states otherwise."""
    return await db.write(
        lambda tx: lifecycle.transition(
            tx, LIFECYCLE, action_id, target, comment, actor=actor, now=now
        )
    )
