"""The demo plant's work: corrective actions and management-of-change records (SPEC §5), each
with the `status_path` it moves through after creation (SPEC §6 lifecycles).

Every draw comes from the generator's random source, in a fixed order: the same seed and
`today` give the same records, call for call.
"""

from __future__ import annotations

import datetime as dt
import random

from reliatic_appliance.demo.catalogue import (
    ACTION_MIX,
    ACTION_PATHS,
    ACTION_TITLES,
    ASSIGNEES,
    MOC_PATHS,
    MOC_TITLES,
    REQUESTERS,
    Rec,
)
from reliatic_appliance.domain.fmea import fmea_priority, rpn
from reliatic_appliance.domain.lifecycle import OPEN_ACTION_STATUSES, ActionStatus, MocStatus
from reliatic_appliance.domain.vocabulary import ActionPriority, AssetStatus

# title, priority, description, asset index, failure mode index
ActionSpec = tuple[str, ActionPriority, str, int | None, int | None]
MAX_ACTIONS = 60
_LOW, _MEDIUM = ActionPriority.LOW, ActionPriority.MEDIUM
_HIGH, _CRITICAL = ActionPriority.HIGH, ActionPriority.CRITICAL


def _action_specs(
    assets: list[Rec], fms: list[Rec], below: set[int], near: set[int]
) -> list[ActionSpec]:
    """Wall-loss follow-ups, plant-wide items, then one per failure mode, highest RPN first,
    at the failure mode's SPEC §6 priority."""
    specs: list[ActionSpec] = []
    for i in sorted(below):
        tag = assets[i]["tag_number"]
        text = "Latest UT reading is at or below required thickness."
        specs.append((f"API 579 Level 1 FFS and repair plan for {tag}", _CRITICAL, text, i, None))
    for i in sorted(near):
        tag = assets[i]["tag_number"]
        text = "Remaining wall within 1 mm of required thickness."
        specs.append((f"Increase UT monitoring frequency on {tag}", _HIGH, text, i, None))
    specs += [
        ("Update IOW for crude overhead chlorides", _MEDIUM, "Align with API RP 584.", None, None),
        ("Train operators on seal pot checks", _LOW, "Toolbox talk for all shifts.", None, None),
        ("Review RBI plan after turnaround", _MEDIUM, "Re-run API RP 581 models.", None, None),
    ]
    scores = [rpn(fm["severity"], fm["occurrence"], fm["detection"]) for fm in fms]
    for j in sorted(range(len(fms)), key=lambda j: -scores[j]):
        fm = fms[j]
        tag = assets[fm["asset_ref"]]["tag_number"]
        # An FMEA priority and an action priority share their names (low .. critical).
        prio = ActionPriority(fmea_priority(fm["severity"], scores[j]))
        title = ACTION_TITLES[fm["failure_mechanism"]].format(tag=tag)
        text = f"Mitigate {fm['failure_mechanism']}: {fm['cause']}."
        specs.append((title, prio, text, fm["asset_ref"], j))
    return specs


def _action_path(rng: random.Random, final: str) -> list[str]:
    """The statuses to `final`: sometimes with a rework loop, or cancelled straight away."""
    path = list(ACTION_PATHS[final])
    if final == ActionStatus.CLOSED and rng.random() < 0.3:  # rework loop
        path = ["in_progress", "completed", "in_progress", "completed", "verified", "closed"]
    if final == ActionStatus.CANCELLED and rng.random() < 0.5:
        path = ["cancelled"]
    return path


def actions(
    rng: random.Random,
    today: dt.date,
    assets: list[Rec],
    fms: list[Rec],
    below: set[int],
    near: set[int],
) -> list[Rec]:
    """~60 actions: every final status twice, then drawn by `ACTION_MIX`; open ones mostly
    overdue, finished ones due in the past."""
    finals, mix = list(ACTION_PATHS), ACTION_MIX[:]
    rng.shuffle(mix)
    out: list[Rec] = []
    specs = _action_specs(assets, fms, below, near)
    for n, (title, prio, desc, aref, fref) in enumerate(specs[:MAX_ACTIONS]):
        final = finals[n % len(finals)] if n < 2 * len(finals) else mix[n % len(mix)]
        path = _action_path(rng, final)
        if final in OPEN_ACTION_STATUSES:
            delta = -rng.randint(1, 90) if rng.random() < 0.6 else rng.randint(7, 180)
        else:
            delta = -rng.randint(10, 400)
        out.append(
            {
                "title": title,
                "priority": prio,
                "description": desc,
                "asset_ref": aref,
                "failure_mode_ref": fref,
                "assignee_id": rng.choice(ASSIGNEES),
                "due_date": (today + dt.timedelta(days=delta)).isoformat(),
                "status_path": path,
            }
        )
    return out


def mocs(rng: random.Random, today: dt.date, assets: list[Rec]) -> list[Rec]:
    """One MOC per catalogue title, on an active asset of its type (or plant-wide): every
    final status once, then drawn; some drafts come back from a rejection."""
    out: list[Rec] = []
    finals, used = list(MOC_PATHS), set()
    for n, line in enumerate(MOC_TITLES):
        title, _, kind = line.partition("@")
        pool = [
            i
            for i, a in enumerate(assets)
            if a["asset_type"] == kind and a["status"] == AssetStatus.ACTIVE and i not in used
        ]
        ref = rng.choice(pool) if pool else None
        used.add(ref)
        title = title.format(tag=assets[ref]["tag_number"] if ref is not None else "equipment")
        final = finals[n] if n < len(finals) else rng.choice(finals)
        path = list(MOC_PATHS[final])
        if final == MocStatus.DRAFT and rng.random() < 0.5:
            path = ["submitted", "under_review", "rejected", "draft"]  # sent back for rework
        raised = (today - dt.timedelta(days=rng.randint(5, 400))).isoformat()
        out.append(
            {
                "title": title,
                "asset_ref": ref,
                "requested_by": rng.choice(REQUESTERS),
                "description": f"{title}. Raised {raised}; needs HAZOP review and PSSR.",
                "status_path": path,
            }
        )
    return out
