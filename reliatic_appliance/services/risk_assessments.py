"""Risk assessments, RBI (SPEC §5): rules, one transaction per write, and their events.

`risk_score` and `risk_ranking` (SPEC §6 matrix) are computed here on every write and stored
with the row. The asset's own `risk_ranking` is that of its newest assessment (latest
`assessment_date`, then latest created, SPEC §5), so every write that can change which one
is newest, or its ranking, refreshes the asset's computed fields in the same transaction
(which emits `asset.updated` when the asset's ranking moves).

Events: creating emits `risk_assessment.created`; SPEC §7 has no event type for updating an
assessment, so an update emits nothing for the assessment itself.
"""

from __future__ import annotations

import datetime
from typing import Any

from reliatic_appliance.domain.risk_matrix import risk_ranking, risk_score
from reliatic_appliance.errors import NotFound, ValidationError
from reliatic_appliance.ids import new_id
from reliatic_appliance.ports import RiskAssessmentFilter, TenantDb, TenantTx
from reliatic_appliance.services import asset_metrics
from reliatic_appliance.services.events import emit
from reliatic_appliance.services.paging import Page, PageRequest, read_page
from reliatic_appliance.services.references import check_same_asset, require
from reliatic_appliance.timefmt import format_ts

Row = dict[str, Any]

# Fields whose change can change which assessment is newest, or its ranking.
_RANKING_INPUTS = frozenset({"probability_of_failure", "consequence_of_failure", "assessment_date"})


def computed_fields(probability: int, consequence: int) -> Row:
    """The SPEC §6 fields derived from P and C."""
    return {
        "risk_score": risk_score(probability, consequence),
        "risk_ranking": risk_ranking(probability, consequence),
    }


def _assessment_date(value: datetime.date, now: datetime.datetime) -> str:
    # Judged on the UTC calendar, like inspection_date: one rule for every date field.
    if value > now.date():
        raise ValidationError.field("assessment_date", "must not be in the future (UTC)")
    return value.isoformat()


def _not_found(assessment_id: str) -> NotFound:
    return NotFound(f"Risk assessment {assessment_id} not found.")


async def list_risk_assessments(
    db: TenantDb, flt: RiskAssessmentFilter, sort: str | None, page: PageRequest
) -> Page:
    return await read_page(
        db,
        lambda tx, limit, offset: tx.risk_assessments.list_risk_assessments(
            flt, sort=sort, limit=limit, offset=offset
        ),
        page,
    )


def load_risk_assessment(tx: TenantTx, assessment_id: str) -> Row:
    """The representation a GET returns, inside the caller's transaction; 404 if none."""
    row = tx.risk_assessments.get_risk_assessment(assessment_id)
    if row is None:
        raise _not_found(assessment_id)
    return row


async def get_risk_assessment(db: TenantDb, assessment_id: str) -> Row:
    return await db.read(lambda tx: load_risk_assessment(tx, assessment_id))


async def create_risk_assessment(
    db: TenantDb, values: dict[str, Any], *, actor: str | None, now: datetime.datetime
) -> Row:
    """Insert, emit `risk_assessment.created`, and bring the asset's ranking up to date."""
    now = now
    # SPEC §5: assessment_date defaults to today (UTC).
    when = values.get("assessment_date") or now.date()
    row = {
        **values,
        "assessment_date": _assessment_date(when, now),
        **computed_fields(values["probability_of_failure"], values["consequence_of_failure"]),
    }

    def write(tx: TenantTx) -> Row:
        require(tx, "assets", row["asset_id"], "asset_id")
        at = format_ts(now)
        assessment_id = new_id("rsk")
        tx.risk_assessments.insert_risk_assessment(
            {**row, "id": assessment_id, "created_at": at, "updated_at": at}
        )
        created = tx.risk_assessments.get_risk_assessment(assessment_id)
        assert created is not None
        emit(
            tx,
            event_type="risk_assessment.created",
            resource_type="risk_assessment",
            resource_id=assessment_id,
            before=None,
            after=created,
            actor=actor,
            at=at,
        )
        asset_metrics.refresh(tx, row["asset_id"], actor=actor, at=at)
        return created

    return await db.write(write)


async def update_risk_assessment(
    db: TenantDb,
    assessment_id: str,
    changes: dict[str, Any],
    *,
    actor: str | None,
    now: datetime.datetime,
) -> Row:
    """Apply a partial update, recompute score and ranking, refresh the asset's ranking."""
    changes = dict(changes)
    if "assessment_date" in changes:
        changes["assessment_date"] = _assessment_date(changes["assessment_date"], now)

    def write(tx: TenantTx) -> Row:
        before = tx.risk_assessments.get_risk_assessment(assessment_id)
        if before is None:
            raise _not_found(assessment_id)
        check_same_asset(before, changes, "risk assessment")
        changed = {k: v for k, v in changes.items() if k != "asset_id" and before[k] != v}
        if not changed:
            return before
        merged = {**before, **changed}
        changed |= computed_fields(
            merged["probability_of_failure"], merged["consequence_of_failure"]
        )
        at = format_ts(now)
        tx.risk_assessments.update_risk_assessment(assessment_id, changed, at)
        if _RANKING_INPUTS & changed.keys():
            asset_metrics.refresh(tx, before["asset_id"], actor=actor, at=at)
        after = tx.risk_assessments.get_risk_assessment(assessment_id)
        assert after is not None
        return after

    return await db.write(write)
