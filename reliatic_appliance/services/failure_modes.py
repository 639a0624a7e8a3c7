"""Failure modes, FMEA (SPEC §5): rules, one transaction per write, and `fmea.rpn_changed`.

`rpn`, `priority` and `action_priority` (SPEC §6) are computed here on every write and
stored with the row, so lists filter and sort on them with an index.

Only an update that changes the RPN emits an event (`fmea.rpn_changed`, SPEC §5/§7); SPEC §7
has no event type for creating or deleting a failure mode, so those emit nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from reliatic_appliance.domain.fmea import action_priority, fmea_priority, rpn
from reliatic_appliance.errors import NotFound, ValidationError
from reliatic_appliance.ids import new_id
from reliatic_appliance.ports import FailureModeFilter, TenantDb, TenantTx
from reliatic_appliance.services.events import emit
from reliatic_appliance.services.paging import Page, PageRequest, read_page
from reliatic_appliance.services.references import check_same_asset, require
from reliatic_appliance.timefmt import format_ts

Row = dict[str, Any]


def computed_fields(severity: int, occurrence: int, detection: int) -> Row:
    """The SPEC §6 fields derived from S, O and D."""
    score = rpn(severity, occurrence, detection)
    return {
        "rpn": score,
        "priority": fmea_priority(severity, score),
        "action_priority": action_priority(severity, occurrence, detection),
    }


def _not_found(failure_mode_id: str) -> NotFound:
    return NotFound(f"Failure mode {failure_mode_id} not found.")


async def list_failure_modes(
    db: TenantDb, flt: FailureModeFilter, sort: str | None, page: PageRequest
) -> Page:
    if flt.rpn_min is not None and flt.rpn_max is not None and flt.rpn_min > flt.rpn_max:
        raise ValidationError.field("rpn_min", "must not be greater than rpn_max")

    return await read_page(
        db,
        lambda tx, limit, offset: tx.failure_modes.list_failure_modes(
            flt, sort=sort, limit=limit, offset=offset
        ),
        page,
    )


def load_failure_mode(tx: TenantTx, failure_mode_id: str) -> Row:
    """The representation a GET returns, inside the caller's transaction; 404 if none."""
    row = tx.failure_modes.get_failure_mode(failure_mode_id)
    if row is None:
        raise _not_found(failure_mode_id)
    return row


async def get_failure_mode(db: TenantDb, failure_mode_id: str) -> Row:
    return await db.read(lambda tx: load_failure_mode(tx, failure_mode_id))


async def create_failure_mode(db: TenantDb, values: dict[str, Any], *, now: datetime) -> Row:
    """Insert a failure mode of an asset of this tenant (400 naming asset_id otherwise)."""
    row = {
        **values,
        **computed_fields(values["severity"], values["occurrence"], values["detection"]),
    }

    def write(tx: TenantTx) -> Row:
        require(tx, "assets", row["asset_id"], "asset_id")
        at = format_ts(now)
        failure_mode_id = new_id("fmd")
        tx.failure_modes.insert_failure_mode(
            {**row, "id": failure_mode_id, "created_at": at, "updated_at": at}
        )
        created = tx.failure_modes.get_failure_mode(failure_mode_id)
        assert created is not None
        return created

    return await db.write(write)


async def update_failure_mode(
    db: TenantDb, failure_mode_id: str, changes: dict[str, Any], *, actor: str | None, now: datetime
) -> Row:
    """Apply a partial update; emit `fmea.rpn_changed` (before, after) if the RPN moved."""

    def write(tx: TenantTx) -> Row:
        before = tx.failure_modes.get_failure_mode(failure_mode_id)
        if before is None:
            raise _not_found(failure_mode_id)
        check_same_asset(before, changes, "failure mode")
        changed = {k: v for k, v in changes.items() if k != "asset_id" and before[k] != v}
        if not changed:
            return before
        merged = {**before, **changed}
        computed = computed_fields(merged["severity"], merged["occurrence"], merged["detection"])
        changed |= computed
        at = format_ts(now)
        tx.failure_modes.update_failure_mode(failure_mode_id, changed, at)
        after = tx.failure_modes.get_failure_mode(failure_mode_id)
        assert after is not None
        if after["rpn"] != before["rpn"]:
            emit(
                tx,
                event_type="fmea.rpn_changed",
                resource_type="failure_mode",
                resource_id=failure_mode_id,
                before=before,
                after=after,
                actor=actor,
                at=at,
            )
        return after

    return await db.write(write)


async def delete_failure_mode(db: TenantDb, failure_mode_id: str, *, now: datetime) -> None:
    """Hard delete (SPEC §5 "DELETE allowed"); actions that referred to it are detached."""

    def write(tx: TenantTx) -> None:
        if not tx.failure_modes.delete_failure_mode(failure_mode_id, format_ts(now)):
            raise _not_found(failure_mode_id)

    await db.write(write)
