"""Deterministic generator of a realistic demo refinery (what ``reliatic demo`` loads).

Pure and stdlib-only: no I/O, no clock (``today`` is passed in), randomness only from
``random.Random(seed)``. Records use the REST API's field names; cross references are list
indices (``asset_ref``, ``failure_mode_ref``). Actions and MOCs carry a ``status_path``: the
statuses they move through after being created as ``open`` / ``draft``.

The plant is drawn from `catalogue` by `equipment` (assets), `integrity` (inspections,
failure modes, risk assessments) and `work` (actions, MOCs); the SPEC §6 rules it needs
(FMEA priority, risk ranking, open statuses) are the domain's own.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from reliatic_appliance.demo import integrity, work
from reliatic_appliance.demo.catalogue import Rec, years
from reliatic_appliance.demo.equipment import build_assets
from reliatic_appliance.domain.vocabulary import AssetStatus


@dataclass(frozen=True)
class DemoPlant:
    """Generated records; ``*_ref`` fields are indices into :attr:`assets` / ``failure_modes``."""

    assets: list[Rec]
    inspections: list[Rec]
    failure_modes: list[Rec]
    actions: list[Rec]
    risk_assessments: list[Rec]
    mocs: list[Rec]


def _set_statuses(rng: random.Random, assets: list[Rec]) -> None:
    """A few assets decommissioned, some more inactive, the rest active."""
    idx = list(range(len(assets)))
    dec = set(rng.sample(idx, min(3, len(assets) // 20)))
    inact = set(rng.sample([i for i in idx if i not in dec], len(assets) // 25))
    for i in idx:
        assets[i]["status"] = (
            AssetStatus.DECOMMISSIONED
            if i in dec
            else AssetStatus.INACTIVE
            if i in inact
            else AssetStatus.ACTIVE
        )


def _worn(rng: random.Random, today: dt.date, assets: list[Rec]) -> tuple[set[int], set[int]]:
    """Old active static assets with little corrosion allowance left for their age: five to
    end below their required thickness, six within 1 mm of it."""
    old = []
    for i, a in enumerate(assets):
        if a["nominal_thickness_mm"] is None or a["status"] != AssetStatus.ACTIVE:
            continue
        age = years(dt.date.fromisoformat(a["install_date"]), today)
        if age >= 15 and a["nominal_thickness_mm"] - a["required_thickness_mm"] < 0.6 * (age - 5):
            old.append(i)
    picks = rng.sample(old, min(len(old), 11))
    return set(picks[:5]), set(picks[5:])


def generate_plant(*, seed: int = 2026, today: dt.date, asset_count: int = 240) -> DemoPlant:
    """Build the demo plant; the same ``seed`` and ``today`` always give identical output."""
    rng = random.Random(seed)
    assets = build_assets(rng, today, asset_count)
    _set_statuses(rng, assets)
    below, near = _worn(rng, today, assets)
    inspections = integrity.inspections(rng, today, assets, below, near)
    failure_modes = integrity.failure_modes(rng, assets, below | near)
    actions = work.actions(rng, today, assets, failure_modes, below, near)
    risks = integrity.risk_assessments(rng, today, assets, inspections)
    mocs = work.mocs(rng, today, assets)
    for a in assets:
        del a["_code"], a["_fluid"]
    return DemoPlant(assets, inspections, failure_modes, actions, risks, mocs)
