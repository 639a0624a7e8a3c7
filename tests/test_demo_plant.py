"""Tests of the deterministic demo-plant generator (reliatic_appliance.demo.plant)."""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict

import pytest

from reliatic_appliance.demo.catalogue import RISK_FIX
from reliatic_appliance.demo.plant import DemoPlant, generate_plant

TODAY = dt.date(2026, 3, 1)

ACTION_NEXT = {
    "open": {"in_progress", "on_hold", "cancelled"},
    "in_progress": {"on_hold", "completed", "cancelled"},
    "on_hold": {"in_progress", "cancelled"},
    "completed": {"verified", "in_progress"},
    "verified": {"closed"},
    "closed": set(),
    "cancelled": set(),
}
MOC_NEXT = {
    "draft": {"submitted", "cancelled"},
    "submitted": {"under_review", "cancelled"},
    "under_review": {"approved", "rejected"},
    "approved": {"implemented"},
    "implemented": {"closed"},
    "rejected": {"draft"},
    "closed": set(),
    "cancelled": set(),
}
# SPEC §6 risk matrix: row P = 5..1, column C = 1..5
RISK_ROWS = {
    5: ["medium", "medium_high", "high", "high", "high"],
    4: ["medium", "medium", "medium_high", "high", "high"],
    3: ["low", "medium", "medium", "medium_high", "high"],
    2: ["low", "low", "medium", "medium", "medium_high"],
    1: ["low", "low", "medium", "medium", "medium_high"],
}
THICKNESS_TYPES = {"internal_visual", "ut_scanning", "profile_radiography", "ut_spot"}


@pytest.fixture(scope="module")
def plant() -> DemoPlant:
    return generate_plant(today=TODAY)


def _date(s: str) -> dt.date:
    return dt.date.fromisoformat(s)


def _final(path: list[str], start: str) -> str:
    return path[-1] if path else start


def test_deterministic_and_fast() -> None:
    start = time.perf_counter()
    a = generate_plant(seed=7, today=TODAY)
    assert time.perf_counter() - start < 0.5
    assert a == generate_plant(seed=7, today=TODAY)
    assert a != generate_plant(seed=8, today=TODAY)


def test_assets(plant: DemoPlant) -> None:
    assets = plant.assets
    assert len(assets) >= 200
    assert len(generate_plant(today=TODAY, asset_count=50).assets) == 50
    assert {a["asset_type"] for a in assets} == {
        "vessel",
        "piping",
        "tank",
        "heat_exchanger",
        "rotating",
    }
    for kind in ("vessel", "piping", "tank", "heat_exchanger", "rotating"):
        assert sum(a["asset_type"] == kind for a in assets) >= 15, kind
    tags = [a["tag_number"] for a in assets]
    assert len(set(tags)) == len(tags)
    assert all(t.isascii() and 0 < len(t) <= 40 for t in tags)
    statuses = [a["status"] for a in assets]
    assert 2 <= statuses.count("decommissioned") <= 4
    assert statuses.count("inactive") >= 1
    assert statuses.count("active") > 0.8 * len(assets)
    for a in assets:
        assert a["criticality"] in {"low", "medium", "high", "critical"}
        assert 1975 <= _date(a["install_date"]).year <= 2022
        p = a["design_pressure_kpa"]
        assert {"tank": 5 <= p <= 20, "vessel": 500 <= p <= 15000, "piping": 0 < p <= 10000}.get(
            a["asset_type"], p > 0
        )
        thick = (a["nominal_thickness_mm"], a["required_thickness_mm"], a["corrosion_allowance_mm"])
        if a["asset_type"] == "rotating":
            assert thick == (None, None, None)
        else:
            nom, req, ca = thick
            assert 0 < req < nom
            assert 1.5 <= ca <= 6.0


def test_inspections(plant: DemoPlant) -> None:
    per_asset: dict[int, list[dict]] = defaultdict(list)
    for r in plant.inspections:
        per_asset[r["asset_ref"]].append(r)
        asset = plant.assets[r["asset_ref"]]
        assert _date(asset["install_date"]) < _date(r["inspection_date"]) <= TODAY
        assert r["status"] in {"completed", "draft"}
        cov = r["coverage_percent"]
        assert cov is None or 0 <= cov <= 100
        if r["inspection_type"] not in THICKNESS_TYPES:
            assert r["min_measured_thickness_mm"] is None
    assert any(r["status"] == "draft" for r in plant.inspections)
    below = near = 0
    for i, a in enumerate(plant.assets):
        rows = sorted(per_asset[i], key=lambda r: r["inspection_date"])
        if a["asset_type"] == "rotating":
            assert not rows
            continue
        assert 3 <= len(rows) <= 6
        readings = [r["min_measured_thickness_mm"] for r in rows]
        readings = [x for x in readings if x is not None]
        assert readings, a["tag_number"]
        assert all(0 <= x <= a["nominal_thickness_mm"] for x in readings)
        assert readings == sorted(readings, reverse=True), a["tag_number"]
        req = a["required_thickness_mm"]
        below += readings[-1] <= req
        near += req < readings[-1] <= req + 1.0
    assert below >= 3
    assert near >= 5


def test_failure_modes(plant: DemoPlant) -> None:
    priorities = set()
    for fm in plant.failure_modes:
        assert 0 <= fm["asset_ref"] < len(plant.assets)
        s, o, d = fm["severity"], fm["occurrence"], fm["detection"]
        assert all(isinstance(x, int) and 1 <= x <= 10 for x in (s, o, d))
        rpn = s * o * d
        priorities.add(
            "critical" if s >= 9 or rpn >= 300 else
            "high" if rpn >= 200 else "medium" if rpn >= 100 else "low"
        )  # fmt: skip
    assert priorities == {"critical", "high", "medium", "low"}
    from reliatic_appliance.domain.fmea import action_priority

    aps = {
        action_priority(f["severity"], f["occurrence"], f["detection"]) for f in plant.failure_modes
    }
    assert aps == {"H", "M", "L"}


def _check_paths(records: list[dict], start: str, table: dict[str, set[str]]) -> set[str]:
    finals = set()
    for rec in records:
        state = start
        for nxt in rec["status_path"]:
            assert nxt in table[state], (state, nxt, rec["title"])
            state = nxt
        finals.add(_final(rec["status_path"], start))
    return finals


def test_actions(plant: DemoPlant) -> None:
    actions = plant.actions
    assert 50 <= len(actions) <= 70
    assert _check_paths(actions, "open", ACTION_NEXT) == set(ACTION_NEXT)
    for act in actions:
        assert act["priority"] in {"low", "medium", "high", "critical"}
        assert act["asset_ref"] is None or 0 <= act["asset_ref"] < len(plant.assets)
        fm = act["failure_mode_ref"]
        assert fm is None or plant.failure_modes[fm]["asset_ref"] == act["asset_ref"]
    overdue = [a for a in actions if not a["status_path"] and _date(a["due_date"]) < TODAY]
    assert overdue


def test_risk_assessments(plant: DemoPlant) -> None:
    rankings = set()
    for r in plant.risk_assessments:
        assert plant.assets[r["asset_ref"]]["asset_type"] != "rotating"
        p, c = r["probability_of_failure"], r["consequence_of_failure"]
        assert 1 <= p <= 5 and 1 <= c <= 5
        assert _date(r["assessment_date"]) <= TODAY
        rankings.add(RISK_ROWS[p][c - 1])
    assert rankings == {"low", "medium", "medium_high", "high"}
    refs = [r["asset_ref"] for r in plant.risk_assessments]
    assert len(refs) > len(set(refs))  # some assets have an older and a newer assessment


def test_risk_fix_pairs_rank_as_labelled() -> None:
    # The pairs forced in when a draw misses a ranking must give that ranking (SPEC §6).
    assert {RISK_ROWS[p][c - 1]: (p, c) for p, c in RISK_FIX.values()} == RISK_FIX


def test_mocs(plant: DemoPlant) -> None:
    assert 12 <= len(plant.mocs) <= 20
    assert _check_paths(plant.mocs, "draft", MOC_NEXT) == set(MOC_NEXT)
    for m in plant.mocs:
        assert m["asset_ref"] is None or 0 <= m["asset_ref"] < len(plant.assets)
        assert m["title"] and m["requested_by"]
