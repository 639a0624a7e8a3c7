"""Overview, the assets list and each asset's page (SPEC §10): read-only, every role."""

from __future__ import annotations

import datetime
import json
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from reliatic_appliance.admin.plot import thickness_plot
from reliatic_appliance.admin.render import PageCall, page
from reliatic_appliance.domain.corrosion import ThicknessReading
from reliatic_appliance.domain.risk_matrix import risk_ranking
from reliatic_appliance.domain.vocabulary import AssetStatus, AssetType
from reliatic_appliance.keys import SETTINGS
from reliatic_appliance.ports import AssetFilter, InspectionFilter, RiskAssessmentFilter
from reliatic_appliance.services import assets, inspections, overview, risk_assessments
from reliatic_appliance.services.paging import PageRequest

PER_PAGE = 25
# Readings plotted at most: decades of yearly readings; a page stays far under 100 KB.
MAX_READINGS = 200


@page(admin=False)
async def overview_page(call: PageCall) -> web.StreamResponse:
    db = await call.tenant_db()
    levels = call.request.app[SETTINGS].sla.escalation_levels_days
    matrix = await overview.risk_matrix(db)
    overdue, overdue_total = await overview.overdue_by_level(db, now=call.now, levels_days=levels)
    due = await overview.inspections_due(db, today=call.now.date())
    return call.render(
        "overview.html",
        title="Overview",
        matrix=matrix,
        assessed=sum(cell.assets for row in matrix for cell in row),
        overdue=overdue,
        overdue_total=overdue_total,
        overdue_shown=sum(len(g) for g in overdue.values()),
        level_text=level_texts(levels),
        due=due,
        today=call.now.date(),
    )


def level_texts(levels_days: list[int]) -> dict[int, str]:
    """Each SLA escalation level in words (domain/sla.py: level 1 from a day past due, then
    one more at each of `levels_days`)."""
    starts = [1, *levels_days]
    texts = {}
    for level, start in enumerate(starts, 1):
        if level < len(starts):
            texts[level] = f"{start} to {starts[level] - 1} days past due"
        else:
            texts[level] = f"{start} day{'s' if start != 1 else ''} or more past due"
    return texts


def _int_in(text: str, low: int, high: int) -> int | None:
    return int(text) if text.isdigit() and low <= int(text) <= high else None


@page(admin=False)
async def assets_page(call: PageCall) -> web.StreamResponse:
    probability = _int_in(call.field("probability"), 1, 5)
    consequence = _int_in(call.field("consequence"), 1, 5)
    if probability is None or consequence is None:
        probability = consequence = None
    status = call.field("status")
    asset_type = call.field("type")
    search = call.field("search")[:100]
    flt = AssetFilter(
        status=status if status in set(AssetStatus) else None,
        asset_type=asset_type if asset_type in set(AssetType) else None,
        search=search or None,
        probability=probability,
        consequence=consequence,
    )
    number = _int_in(call.field("page"), 1, 1_000_000) or 1
    found = await assets.list_assets(
        await call.tenant_db(), flt, "tag_number", PageRequest(page=number, per_page=PER_PAGE)
    )
    rows = [json.loads(text) for text in found.items_json or []]
    kept = {
        "probability": probability,
        "consequence": consequence,
        "status": flt.status,
        "type": flt.asset_type,
        "search": flt.search,
    }
    query = urlencode({k: v for k, v in kept.items() if v is not None})
    cell = None
    if probability is not None and consequence is not None:
        cell = {
            "p": probability,
            "c": consequence,
            "ranking": risk_ranking(probability, consequence),
        }
    return call.render(
        "assets.html",
        title="Assets",
        rows=rows,
        page=found,
        filters=kept,
        query=query,
        cell=cell,
        statuses=list(AssetStatus),
        today=call.now.date().isoformat(),
        types=list(AssetType),
    )


@page(admin=False)
async def asset_page(call: PageCall) -> web.StreamResponse:
    db = await call.tenant_db()
    asset = await assets.get_asset(db, call.request.match_info["asset_id"])
    done = await inspections.list_inspections(
        db,
        InspectionFilter(asset_id=asset["id"]),
        "-inspection_date",
        PageRequest(per_page=MAX_READINGS),
    )
    readings = [
        ThicknessReading(
            datetime.date.fromisoformat(i["inspection_date"]), i["min_measured_thickness_mm"]
        )
        for i in done.items
        if i["status"] == "completed"
        and i["min_measured_thickness_mm"] is not None
        and i["inspection_date"]
    ]
    plot = thickness_plot(
        readings,
        required_mm=asset["required_thickness_mm"],
        rate_mm_per_year=asset["corrosion_rate_mm_per_year"],
    )
    assessments = await risk_assessments.list_risk_assessments(
        db, RiskAssessmentFilter(asset_id=asset["id"]), "-assessment_date", PageRequest(per_page=5)
    )
    newest: dict[str, Any] | None = assessments.items[0] if assessments.items else None
    return call.render(
        "asset.html",
        title=f"{asset['tag_number']} {asset['name']}",
        asset=asset,
        plot=plot,
        inspections=done.items[:20],
        inspections_total=done.total,
        assessments=assessments.items,
        newest=newest,
    )
