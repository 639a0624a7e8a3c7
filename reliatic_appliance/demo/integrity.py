"""The demo plant's integrity records: inspections with thickness readings, FMEA failure modes
and RBI risk assessments (SPEC §5), consistent with the SPEC §6 rules that read them.

Every draw comes from the generator's random source, in a fixed order: the same seed and
`today` give the same records, call for call.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from reliatic_appliance.demo.catalogue import (
    COVERAGE_SPANS,
    CURATED_SOD,
    FM_LIB,
    INSPECTION_KINDS,
    INSPECTORS,
    NO_READING,
    RBI_MECHS,
    RISK_FIX,
    THICKNESS_TYPES,
    Rec,
    split,
    years,
)
from reliatic_appliance.domain.corrosion import DAYS_PER_YEAR
from reliatic_appliance.domain.lifecycle import InspectionStatus
from reliatic_appliance.domain.risk_matrix import risk_ranking
from reliatic_appliance.domain.vocabulary import AssetStatus, AssetType, Criticality


@dataclass(frozen=True)
class _Wall:
    """How an asset's wall thins: `t0` mm until `onset`, then `rate` mm a year."""

    t0: float
    rate: float
    onset: dt.date

    def at(self, day: dt.date) -> float:
        return self.t0 - self.rate * max(0.0, years(self.onset, day))


def _coverage(rng: random.Random, itype: str) -> float | None:
    span = COVERAGE_SPANS.get(itype)
    return round(rng.uniform(*span), 1) if span is not None else None


def _findings(reading: float | None, req: float, itype: str) -> str:
    if reading is None:
        return NO_READING[itype]
    if reading <= req:
        return f"Min. {reading:.2f} mm vs t-req {req:.2f} mm; FFS assessment required."
    if reading - req <= 1.0:
        return f"Localized thinning, min. {reading:.2f} mm; within 1 mm of t-req {req:.2f} mm."
    return f"General thinning, min. {reading:.2f} mm; within corrosion allowance."


def _dates(rng: random.Random, today: dt.date, install: dt.date) -> tuple[list[dt.date], dt.date]:
    """3-6 inspection dates after `install`, evenly spread with some jitter, and the last."""
    n = rng.randint(3, 6)
    span = (today - install).days
    end = today - dt.timedelta(days=rng.randint(10, max(11, min(1400, span // 3))))
    gap = dt.timedelta(days=n * rng.randint(700, 1600))
    first = max(install + dt.timedelta(days=60), end - gap)
    step = (end - first).days / (n - 1)
    dates = [
        first + dt.timedelta(days=round(k * step + (rng.randint(-20, 20) if 0 < k < n - 1 else 0)))
        for k in range(n)
    ]
    return dates, end


def _wall(
    rng: random.Random, a: Rec, install: dt.date, dates: list[dt.date], end: dt.date, fate: str
) -> _Wall:
    """The wall loss of asset `a`: to below t-req (`fate` "below"), within 1 mm of it
    ("near"), else staying at least 1.2 mm above it with the last readings still thinning."""
    nom, req = a["nominal_thickness_mm"], a["required_thickness_mm"]
    t0 = round(nom - rng.uniform(0, 0.04) * nom, 2)  # mill under-tolerance
    room = t0 - req
    years_avail = max(years(install, end), 0.5)
    rate = 0.05 + 0.35 * rng.random() ** 1.5  # mm/y once corrosion is active
    if fate:
        loss = room + rng.uniform(0.0, 0.5) if fate == "below" else room - rng.uniform(0.1, 0.9)
        rate = min(0.8, max(rate, loss / years_avail))
    else:
        cap = max(0.1, room - 1.2)
        need = rate * years(dates[1], end)
        loss = min(rate * years_avail, cap, max(need, rng.uniform(0.4, 1.0) * cap))
    onset = end - dt.timedelta(days=round(loss / rate * DAYS_PER_YEAR))
    return _Wall(t0, rate, onset)


def _inspection_type(rng: random.Random, kind: str, k: int, n: int) -> str:
    """The `k`th of `n`: thickness surveys first and last (UT scanning last), any between."""
    if 0 < k < n - 1:
        return rng.choice(INSPECTION_KINDS[kind])
    if kind == AssetType.TANK:
        return rng.choice(["internal_visual", "ut_spot"])
    return "ut_scanning" if k == n - 1 else rng.choice(["internal_visual", "ut_spot"])


def _asset_inspections(
    rng: random.Random, i: int, a: Rec, dates: list[dt.date], wall: _Wall, draft_last: bool
) -> list[Rec]:
    nom, req = a["nominal_thickness_mm"], a["required_thickness_mm"]
    out: list[Rec] = []
    prev = nom
    for k, day in enumerate(dates):
        last = k == len(dates) - 1
        itype = _inspection_type(rng, a["asset_type"], k, len(dates))
        reading = None
        if itype in THICKNESS_TYPES:
            noise = 0.0 if last else rng.uniform(-0.05, 0.05)
            reading = round(max(0.0, min(prev, nom, wall.at(day) + noise)), 2)
            prev = reading
        draft = last and draft_last
        who = split(INSPECTORS.get(itype, INSPECTORS[a["asset_type"]]))
        out.append(
            {
                "asset_ref": i,
                "inspection_type": itype,
                "inspection_date": day.isoformat(),
                "inspector_name": rng.choice(who),
                "coverage_percent": _coverage(rng, itype),
                "status": InspectionStatus.DRAFT if draft else InspectionStatus.COMPLETED,
                "findings": "Preliminary: report pending review."
                if draft
                else _findings(reading, req, itype),
                "min_measured_thickness_mm": reading,
            }
        )
    return out


def inspections(
    rng: random.Random, today: dt.date, assets: list[Rec], below: set[int], near: set[int]
) -> list[Rec]:
    """3-6 inspections per static asset; wall loss starts at an onset date, then a fixed rate.
    The assets of `below` end at or under their required thickness, those of `near` within
    1 mm of it; a few others have their last inspection still in draft."""
    out: list[Rec] = []
    for i, a in enumerate(assets):
        if a["asset_type"] == AssetType.ROTATING:
            continue
        install = dt.date.fromisoformat(a["install_date"])
        dates, end = _dates(rng, today, install)
        fate = "below" if i in below else "near" if i in near else ""
        wall = _wall(rng, a, install, dates, end, fate)
        out += _asset_inspections(rng, i, a, dates, wall, i % 37 == 5 and not fate)
    return out


def _fm_keys(a: Rec) -> list[str]:
    kind, code, t = a["asset_type"], a["_code"], a["design_temperature_c"]
    if kind == AssetType.ROTATING:
        return (
            ["valve", "bearing"] if a["tag_number"].startswith("C-") else ["seal", "bearing", "cav"]
        )
    keys = {"tank": ["tankbot"], "heat_exchanger": ["fouling", "eros"]}.get(kind, ["eros", "fat"])
    if 50 <= t <= 200 and kind != AssetType.TANK:
        keys.append("cui")
    if code == "HC" and t > 285:
        keys.append("sulf")
    return keys + {"SW": ["wh2s"], "H2": ["wh2s"], "AM": ["amine"]}.get(code, [])


def failure_modes(rng: random.Random, assets: list[Rec], watch: set[int]) -> list[Rec]:
    """FMEA rows; the first ones use curated S/O/D so every priority and AP band appears."""
    out: list[Rec] = []
    for i, a in enumerate(assets):
        rot = a["asset_type"] == AssetType.ROTATING
        retired = a["status"] == AssetStatus.DECOMMISSIONED
        if retired or (not rot and i not in watch and rng.random() > 0.4):
            continue
        keys = _fm_keys(a)
        for key in rng.sample(keys, min(len(keys), rng.randint(1, 2) if rot else 1)):
            mech, desc, effect, cause, ctrl = FM_LIB[key]
            if len(out) < len(CURATED_SOD):
                s, o, d = CURATED_SOD[len(out)]
            else:
                s = rng.choice([3, 4, 5, 6, 6, 7, 7, 8, 8, 9])
                o, d = rng.randint(2, 7), rng.randint(2, 8)
            out.append(
                {
                    "asset_ref": i,
                    "description": f"{desc} on {a['tag_number']}",
                    "severity": s,
                    "occurrence": o,
                    "detection": d,
                    "failure_mechanism": mech,
                    "effect": effect.format(fluid=a["_fluid"]),
                    "cause": cause,
                    "current_controls": ctrl,
                }
            )
    return out


def _assessments(rng: random.Random, today: dt.date, i: int, a: Rec, reading: float) -> list[Rec]:
    """The current assessment of asset `a` (PoF from its remaining wall, CoF from its
    criticality), after a superseded older one for some long-installed assets."""
    nom, req = a["nominal_thickness_mm"], a["required_thickness_mm"]
    frac = (reading - req) / (nom - req)
    pof = 5 if frac <= 0 else 4 if frac < 0.3 else 3 if frac < 0.55 else 2 if frac < 0.8 else 1
    pof = max(1, min(5, pof + rng.choice([0, 0, 0, 1, -1])))
    cof = max(1, min(5, list(Criticality).index(a["criticality"]) + 1 + rng.choice([0, 0, 1])))
    mech = RBI_MECHS[a["_code"]]
    if a["asset_type"] == AssetType.TANK:
        mech = "Thinning; Soil-side corrosion; Product-side pitting"
    install = dt.date.fromisoformat(a["install_date"])
    when = today - dt.timedelta(days=rng.randint(30, 700))
    row = {"asset_ref": i, "assessed_by": "RBI team (API RP 581)", "damage_mechanisms": mech}
    out: list[Rec] = []
    if rng.random() < 0.2 and (when - install).days > 6 * 365:
        prev = when - dt.timedelta(days=rng.randint(4 * 365, 6 * 365))
        out.append(
            {
                **row,
                "probability_of_failure": max(1, pof - 1),
                "consequence_of_failure": cof,
                "assessment_date": prev.isoformat(),
                "notes": "Previous RBI cycle; superseded.",
            }
        )
    out.append(
        {
            **row,
            "probability_of_failure": pof,
            "consequence_of_failure": cof,
            "assessment_date": when.isoformat(),
            "notes": "Inspection plan updated to meet RBI risk target.",
        }
    )
    return out


def risk_assessments(
    rng: random.Random, today: dt.date, assets: list[Rec], insp: list[Rec]
) -> list[Rec]:
    """One RBI assessment per static asset in service with a reading (some also an older
    one); then every SPEC §6 ranking is made to appear at least once."""
    latest: dict[int, float] = {}
    for r in insp:
        if r["min_measured_thickness_mm"] is not None:
            latest[r["asset_ref"]] = r["min_measured_thickness_mm"]
    out: list[Rec] = []
    for i, a in enumerate(assets):
        if i in latest and a["status"] != AssetStatus.DECOMMISSIONED:
            out += _assessments(rng, today, i, a, latest[i])
    have = {risk_ranking(r["probability_of_failure"], r["consequence_of_failure"]) for r in out}
    for rank, (p, c) in RISK_FIX.items():
        if rank not in have and out:
            r = out[rng.randrange(len(out))]
            r["probability_of_failure"], r["consequence_of_failure"] = p, c
    return out
