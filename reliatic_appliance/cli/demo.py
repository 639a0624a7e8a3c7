"""`reliatic demo`: the `demo` tenant with a realistic plant, a key and curl lines.

The plant (`demo/plant.py`) is loaded through the same services the API calls, each record
first validated by the API's own Create model, and every action's and MOC's `status_path`
walked through the real status transitions. So the demo holds nothing the API would refuse,
and its computed fields, histories and events feed are the real thing (SPEC §2, §5-§7).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from reliatic_appliance.cli.context import CliContext, cli_who, curl_command, server_url
from reliatic_appliance.cli.key import all_keys
from reliatic_appliance.demo.plant import DemoPlant, generate_plant
from reliatic_appliance.errors import NotFound
from reliatic_appliance.ports import ControlDb, TenantDb
from reliatic_appliance.schemas.actions import ActionCreate
from reliatic_appliance.schemas.assets import AssetCreate
from reliatic_appliance.schemas.failure_modes import FailureModeCreate
from reliatic_appliance.schemas.inspections import InspectionCreate
from reliatic_appliance.schemas.mocs import MocCreate
from reliatic_appliance.schemas.risk_assessments import RiskAssessmentCreate
from reliatic_appliance.services import (
    actions,
    api_keys,
    assets,
    failure_modes,
    inspections,
    mocs,
    risk_assessments,
    tenants,
)
from reliatic_appliance.storage.layout import initialise
from reliatic_appliance.timefmt import utc_now

Rec = dict[str, Any]
DEMO_SLUG = "demo"
DEMO_KEY_NAME = "demo"  # how a run finds the keys of earlier runs, to revoke them
ACTOR = "demo"  # `by` in histories, `actor` of events: what an API key's id is elsewhere
# The generator's list-index references -> the API field each one becomes.
_REFS = {"asset_ref": "asset_id", "failure_mode_ref": "failure_mode_id"}
# Stands in for a referenced id while validating, before the referenced row exists.
_PLACEHOLDER_ID = "demo-ref"
# A transition's comment, as the engineer moving it would write it; keyed by target status.
_COMMENTS = {
    "action": {
        "in_progress": "Work order released; crew assigned.",
        "on_hold": "Waiting for parts / the next shutdown window.",
        "completed": "Work done; report attached to the work order.",
        "verified": "Checked on site by the inspection engineer.",
        "closed": "Closed out; records updated.",
        "cancelled": "No longer needed; superseded by another action.",
    },
    "moc": {
        "submitted": "Submitted for technical review.",
        "under_review": "HAZOP and PSSR scope agreed; under review.",
        "approved": "Approved by the MOC committee.",
        "rejected": "Returned: risk assessment incomplete.",
        "draft": "Reworked after rejection.",
        "implemented": "Implemented; pre-startup safety review done.",
        "closed": "Drawings and procedures updated; closed.",
        "cancelled": "Withdrawn by the requester.",
    },
}
_REWORK_COMMENT = "Rework: verification found open items."
StatusChange = Callable[..., Awaitable[Rec]]
# The plant's record lists (the fields of _Plant), each with its plural for the summary.
_NOUNS = {
    "assets": "assets",
    "inspections": "inspections",
    "failure_modes": "failure modes",
    "actions": "actions",
    "risk_assessments": "risk assessments",
    "mocs": "MOCs",
}


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    parser = sub.add_parser(
        "demo",
        parents=[common],
        help="create the demo tenant with sample data; print a key and curl lines",
        description=(
            "Creates tenant 'demo' with a realistic plant (on first run only): assets,"
            " inspection histories, failure modes, actions in every state, risk assessments"
            " and MOCs, and a new read-write key. Safe to run again: it then only prints a"
            " fresh key, and revokes the key of the run before."
        ),
        epilog="example: reliatic --data-dir ./var demo && reliatic --data-dir ./var serve",
    )
    parser.set_defaults(run=run)


@dataclass(frozen=True)
class _Record:
    """One generated record, validated; its references still to be filled in."""

    values: Rec  # the fields as the API's Create model accepted them
    refs: dict[str, int]  # API id field -> index of the referenced record
    status_path: list[str] = field(default_factory=list)


def _prepare(model: type[BaseModel], record: Rec) -> _Record:
    """Validate through the API's own model, so the demo holds nothing the API refuses."""
    refs = {api: record[ref] for ref, api in _REFS.items() if record.get(ref) is not None}
    body = {k: v for k, v in record.items() if k not in _REFS and k != "status_path"}
    body |= dict.fromkeys(refs, _PLACEHOLDER_ID)
    checked = model.model_validate_json(json.dumps(body))
    values = checked.model_dump(exclude_unset=True)
    return _Record(values, refs, list(record.get("status_path", [])))


def _with_ids(record: _Record, ids: Mapping[str, list[str]]) -> Rec:
    return record.values | {api: ids[api][index] for api, index in record.refs.items()}


@dataclass(frozen=True)
class _Plant:
    assets: list[_Record]
    inspections: list[_Record]
    failure_modes: list[_Record]
    actions: list[_Record]
    risk_assessments: list[_Record]
    mocs: list[_Record]

    def counts(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name in _NOUNS}


def _validated(plant: DemoPlant) -> _Plant:
    """Every record checked before anything is written."""
    return _Plant(
        assets=[_prepare(AssetCreate, r) for r in plant.assets],
        inspections=[_prepare(InspectionCreate, r) for r in plant.inspections],
        failure_modes=[_prepare(FailureModeCreate, r) for r in plant.failure_modes],
        actions=[_prepare(ActionCreate, r) for r in plant.actions],
        risk_assessments=[_prepare(RiskAssessmentCreate, r) for r in plant.risk_assessments],
        mocs=[_prepare(MocCreate, r) for r in plant.mocs],
    )


async def _walk(
    db: TenantDb, change: StatusChange, kind: str, row: Rec, path: list[str], now: datetime
) -> None:
    """Move one action or MOC along its path, one real transition (history, event) a step."""
    current = row["status"]
    for target in path:
        rework = kind == "action" and current == "completed" and target == "in_progress"
        comment = _REWORK_COMMENT if rework else _COMMENTS[kind][target]
        await change(db, row["id"], target, comment, actor=ACTOR, now=now)
        current = target


async def _load(db: TenantDb, plant: _Plant, now: datetime) -> None:
    """Write the plant, each record in its own transaction as through the API.

    Independent creates are gathered, so group commit puts hundreds in one fsync; only real
    dependencies wait: assets first, then failure modes before the actions naming them.
    """
    created = await asyncio.gather(
        *(assets.create_asset(db, r.values, actor=ACTOR, now=now) for r in plant.assets)
    )
    ids = {"asset_id": [row["id"] for row in created]}

    async def action(record: _Record, refs: Mapping[str, list[str]]) -> None:
        row = await actions.create_action(db, _with_ids(record, refs), actor=ACTOR, now=now)
        await _walk(db, actions.change_status, "action", row, record.status_path, now)

    async def failure_modes_then_actions() -> None:
        rows = await asyncio.gather(
            *(
                failure_modes.create_failure_mode(db, _with_ids(r, ids), now=now)
                for r in plant.failure_modes
            )
        )
        with_fms = {**ids, "failure_mode_id": [row["id"] for row in rows]}
        await asyncio.gather(*(action(r, with_fms) for r in plant.actions))

    async def moc(record: _Record) -> None:
        row = await mocs.create_moc(db, _with_ids(record, ids), actor=ACTOR, now=now)
        await _walk(db, mocs.change_status, "moc", row, record.status_path, now)

    await asyncio.gather(
        *(
            inspections.create_inspection(db, _with_ids(r, ids), actor=ACTOR, now=now)
            for r in plant.inspections
        ),
        *(
            risk_assessments.create_risk_assessment(db, _with_ids(r, ids), actor=ACTOR, now=now)
            for r in plant.risk_assessments
        ),
        *(moc(r) for r in plant.mocs),
        failure_modes_then_actions(),
    )


async def _load_plant(ctx: CliContext, tenant_id: str, plant: _Plant, now: datetime) -> None:
    async with ctx.tenant_files() as databases:
        await _load(db=await databases.get(tenant_id), plant=plant, now=now)


async def run(ctx: CliContext, args: argparse.Namespace) -> int:
    initialise(ctx.data_dir, ctx.settings.storage.busy_timeout_ms)
    created: dict[str, int] = {}
    now = utc_now()  # the command's one clock reading: every record of the plant is "now"
    async with ctx.control() as control:
        try:
            tenant = await tenants.get_tenant(control, DEMO_SLUG)
        except NotFound:
            # UTC, as the services judge "not in the future" (SPEC §3 dates are UTC).
            plant = _validated(generate_plant(today=now.date()))
            tenant = await tenants.create_tenant(
                control,
                ctx.data_dir,
                slug=DEMO_SLUG,
                name="Demo Refinery",
                by=cli_who(),
                now=now,
            )
            await _load_plant(ctx, tenant["id"], plant, now)
            created = plant.counts()
        record, key = await api_keys.create_key(
            control,
            tenant_id=tenant["id"],
            name=DEMO_KEY_NAME,
            level="read_write",
            by=cli_who(),
            now=now,
        )
        revoked = await _revoke_older_demo_keys(control, tenant["id"], keep=record["id"], now=now)
    base = f"{server_url(ctx.settings)}/api/v1"
    auth = f"{curl_command(ctx.settings)} -H 'Authorization: Bearer {key}'"
    curl = f"{auth} '{base}/assets?per_page=5'"
    curl_overdue = f"{auth} '{base}/actions?overdue=true&per_page=5'"
    ctx.emit(
        {
            "tenant": DEMO_SLUG,
            **{f"{name}_created": created.get(name, 0) for name in _NOUNS},
            "key_id": record["id"],
            "key": key,
            "revoked_key_ids": revoked,
            "curl": curl,
            "curl_overdue_actions": curl_overdue,
        },
        [
            f"tenant '{DEMO_SLUG}': "
            + (_summary(created) if created else "already there (data kept)"),
            f"read-write key (shown once): {key}",
            *([f"revoked the previous demo key(s): {', '.join(revoked)}"] if revoked else []),
            "try it once the server runs:",
            f"  {curl}",
            f"  {curl_overdue}   # overdue actions",
        ],
    )
    return 0


async def _revoke_older_demo_keys(
    control: ControlDb, tenant_id: str, *, keep: str, now: datetime
) -> list[str]:
    """Each run prints a fresh key; the ones before it stop working, so runs do not pile up
    read-write keys. Revoked after the new one exists: a failed run leaves the old key."""
    older = [
        k["id"]
        for k in await all_keys(control, tenant_id)
        if k["name"] == DEMO_KEY_NAME and k["revoked_at"] is None and k["id"] != keep
    ]
    for key_id in older:
        await api_keys.revoke_key(control, key_id, tenant_id=tenant_id, by=cli_who(), now=now)
    return older


def _summary(created: Mapping[str, int]) -> str:
    """'created with 240 assets, 833 inspections, ... and 16 MOCs'."""
    parts = [f"{created[name]} {noun}" for name, noun in _NOUNS.items()]
    return "created with " + ", ".join(parts[:-1]) + " and " + parts[-1]
