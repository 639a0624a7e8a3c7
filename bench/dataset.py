"""The benchmark's dataset, built through the project's own code (issue 7).

One tenant (`bench`) with 100k assets, 300k inspections with thickness readings, 50k failure
modes and 20k actions, and a second tenant (`bench-two`, 2k assets) so that per-tenant
routing is on the path. Records come from the demo plant generator (`demo/plant.py`: real
tag numbers, descriptions, materials and readings), assets are validated by the API's own
`AssetCreate` model, and every row is written by the storage functions the services use,
with the fields the services compute (effectiveness, RPN and priorities, the asset's
corrosion fields via `asset_metrics.refresh`) and the events they emit (`asset.created`,
`inspection.completed`). Only the batching differs: a few thousand rows per `db.write` job
instead of one request each, so the build takes about a minute, not hours.

Run alone: `python bench/dataset.py DATA_DIR` builds a data dir and prints its keys.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import random
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reliatic_appliance.demo.plant import generate_plant
from reliatic_appliance.domain.effectiveness import inspection_effectiveness
from reliatic_appliance.ids import new_id
from reliatic_appliance.ports import TenantTx
from reliatic_appliance.schemas.assets import AssetCreate
from reliatic_appliance.services import alerts, api_keys, asset_metrics, lifecycle, tenants
from reliatic_appliance.services.actions import LIFECYCLE as ACTION_LIFECYCLE
from reliatic_appliance.services.assets import insert_new_asset
from reliatic_appliance.services.audit import Who
from reliatic_appliance.services.events import emit
from reliatic_appliance.services.failure_modes import computed_fields
from reliatic_appliance.services.values import to_storage
from reliatic_appliance.settings import SlaSettings
from reliatic_appliance.storage.layout import initialise
from reliatic_appliance.storage.sqlite import Database, connect, scalar
from reliatic_appliance.storage.tenancy import TenantDatabases, open_control
from reliatic_appliance.timefmt import now_ts, utc_now

ASSETS = 100_000
INSPECTIONS = 300_000
FAILURE_MODES = 50_000
ACTIONS = 20_000
SECOND_TENANT_ASSETS = 2_000
BATCH = 2_000
ACTOR = "bench"
T = TypeVar("T")
Rec = dict[str, Any]


@dataclass(frozen=True)
class Dataset:
    """What the load needs to know about the data it runs against."""

    data_dir: str
    key: str  # read-write key of tenant `bench`, rate limit high enough for the load
    second_key: str  # the same for `bench-two`
    asset_ids: list[str]  # a sample of existing asset ids, for GET one asset
    search_terms: list[str]  # substrings people search for: words and tag fragments
    build_seconds: float

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self)), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Dataset:
        return cls(**json.loads(path.read_text(encoding="utf-8")))

    def bench_tenant_file(self) -> Path:
        """The file of tenant `bench`: the largest under tenants/ (`bench-two` holds 2k)."""
        return max(Path(self.data_dir, "tenants").glob("*.db"), key=lambda p: p.stat().st_size)

    def warn_if_grown(self) -> None:
        """Say so, loudly, when the kept dir's big tenant holds more than the dataset built:
        every run's POSTs stay in it, and figures over 300k assets are not comparable with
        figures over 100k (a list's total, a search's matches, the file's size)."""
        conn = connect(self.bench_tenant_file(), readonly=True)
        try:
            count = int(scalar(conn, "SELECT COUNT(*) FROM assets"))
        finally:
            conn.close()
        if count > ASSETS * 1.05:
            print(
                f"WARNING: tenant `bench` of {self.data_dir} holds {count:,} assets, not"
                f" {ASSETS:,}: earlier runs' POSTs stayed in it. Its figures are not comparable"
                " with a fresh dataset's; run without --data for those.",
                file=sys.stderr,
                flush=True,
            )

    @classmethod
    def kept_or_built(cls, kept: Path | None, tmp: Path) -> Dataset:
        """The dataset of a data dir kept by `run.py --keep`, or a new one built under `tmp`."""
        if kept:
            data = cls.load(kept / "bench-dataset.json")
            data.warn_if_grown()
        else:
            print("building the dataset (100k assets, 300k inspections, ...)", flush=True)
            data = asyncio.run(build(tmp / "data"))
            data.save(Path(data.data_dir) / "bench-dataset.json")
        # Files just written (built, or copied into place) to disk before any measurement:
        # else a server's first checkpoint, whose fsync of the tenant file then writes them
        # back, holds the writer for a few hundred ms inside the first run (355 ms against
        # 14 ms, bench/write_stalls.py).
        os.sync()
        return data


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _validated_assets(records: Sequence[Rec]) -> list[Rec]:
    """Through the API's own model, so the data is something the API would accept."""
    return [
        to_storage(AssetCreate.model_validate_json(json.dumps(r)).model_dump()) for r in records
    ]


async def _write_batches(
    db: Database, items: Sequence[T], job: Callable[[TenantTx, Sequence[T]], None]
) -> None:
    for chunk in _chunks(items, BATCH):
        await db.write(lambda tx, chunk=chunk: job(tx, chunk))


def _insert_assets(tx: TenantTx, assets: Sequence[Rec], ids: list[str]) -> None:
    """Many assets per transaction, each written exactly as the API writes one."""
    for asset in assets:
        ids.append(insert_new_asset(tx, dict(asset), actor=ACTOR, now=utc_now())["id"])


def _insert_inspections(tx: TenantTx, group: Sequence[tuple[str, list[Rec]]]) -> None:
    """What `services.inspections.create_inspection` writes, one asset's readings at a time:
    the row with its effectiveness, `inspection.completed`, then the asset's corrosion
    fields (refreshed once per asset rather than once per reading; same end state)."""
    for asset_id, inspections in group:
        at = now_ts()
        for record in inspections:
            inspection = {k: v for k, v in record.items() if k != "asset_ref"}
            inspection_id = new_id("insp")
            tx.inspections.insert_inspection(
                {
                    **inspection,
                    "id": inspection_id,
                    "asset_id": asset_id,
                    "effectiveness": inspection_effectiveness(
                        inspection["inspection_type"], inspection.get("coverage_percent")
                    ),
                    "created_at": at,
                    "updated_at": at,
                },
            )
            if inspection["status"] == "completed":
                emit(
                    tx,
                    event_type="inspection.completed",
                    resource_type="inspection",
                    resource_id=inspection_id,
                    before=None,
                    after=tx.inspections.get_inspection(inspection_id),
                    actor=ACTOR,
                    at=at,
                )
        asset_metrics.refresh(tx, asset_id, actor=ACTOR, at=at, emit_event=False)


def _insert_failure_modes(tx: TenantTx, rows: Sequence[Rec]) -> None:
    for row in rows:
        at = now_ts()
        tx.failure_modes.insert_failure_mode(
            {
                **row,
                **computed_fields(row["severity"], row["occurrence"], row["detection"]),
                "created_at": at,
                "updated_at": at,
            },
        )


def _insert_actions(tx: TenantTx, rows: Sequence[Rec]) -> None:
    """What `services.actions.create_action` writes: an `open` action and its history."""
    for row in rows:
        at = now_ts()
        tx.actions.insert_action({**row, "status": "open", "created_at": at, "updated_at": at})
        lifecycle.record_creation(tx, ACTION_LIFECYCLE, row["id"], "open", actor=ACTOR, at=at)


def _actions_for(failure_modes: Sequence[Rec], count: int, rng: random.Random) -> list[Rec]:
    """Corrective actions on the worst failure modes (the demo generator makes only a few)."""
    worst = sorted(failure_modes, key=lambda fm: -fm["severity"] * fm["occurrence"])[:count]
    priorities = ("low", "medium", "high", "critical")
    today = dt.date(2026, 11, 25)
    return [
        {
            "id": new_id("act"),
            "title": f"Mitigate: {fm['description']}"[:200],
            "description": fm.get("cause"),
            "priority": priorities[min(3, fm["severity"] // 3)],
            "asset_id": fm["asset_id"],
            "failure_mode_id": fm["id"],
            "inspection_id": None,
            "assignee_id": f"u-{rng.randrange(40):02d}",
            "due_date": (today + dt.timedelta(days=rng.randrange(-60, 365))).isoformat(),
        }
        for fm in worst
    ]


def _search_terms(assets: Sequence[Rec], rng: random.Random) -> list[str]:
    """What an engineer types: words of descriptions and fragments of tag numbers."""
    words = sorted(
        {
            w.strip(",.;()").lower()
            for a in assets[:5000]
            for w in (a.get("description") or "").split()
            if len(w.strip(",.;()")) >= 4
        }
    )
    tags = [a["tag_number"] for a in rng.sample(list(assets), 200)]
    fragments = [t[: max(3, len(t) - 2)] for t in tags]
    return rng.sample(words, min(200, len(words))) + fragments


async def _load_tenant(
    databases: TenantDatabases, tenant_id: str, asset_count: int, full: bool
) -> list[str]:
    db = await databases.get(tenant_id)
    plant = generate_plant(today=dt.date(2026, 11, 25), asset_count=asset_count)
    ids: list[str] = []
    await _write_batches(
        db, _validated_assets(plant.assets), lambda c, b: _insert_assets(c, b, ids)
    )
    if not full:
        return ids
    per_asset: dict[int, list[Rec]] = {}
    for record in plant.inspections[:INSPECTIONS]:
        per_asset.setdefault(record["asset_ref"], []).append(record)
    groups = [(ids[ref], records) for ref, records in per_asset.items()]
    await _write_batches(db, groups, _insert_inspections)
    failure_modes = [
        {
            **{k: v for k, v in fm.items() if k != "asset_ref"},
            "id": new_id("fmd"),
            "asset_id": ids[fm["asset_ref"]],
        }
        for fm in plant.failure_modes[:FAILURE_MODES]
    ]
    await _write_batches(db, failure_modes, _insert_failure_modes)
    rng = random.Random(7)
    await _write_batches(db, _actions_for(failure_modes, ACTIONS, rng), _insert_actions)
    # The scheduler's SLA pass over the overdue actions, as a running plant has had it
    # (alerts and `alert.escalated` events); else the server's first pass would write
    # thousands of alerts in the middle of the first measurement.
    await alerts.escalate_overdue_actions(
        db, now=utc_now(), levels_days=SlaSettings().escalation_levels_days
    )
    return ids


async def build(data_dir: Path, *, log: Callable[[str], None] = print) -> Dataset:
    """Create `data_dir` with both tenants and their keys; return what the load needs."""
    started = time.perf_counter()
    initialise(data_dir)
    # The server's own control database: it also creates each tenant's file (provision_tenant).
    control = open_control(data_dir)
    databases = TenantDatabases(data_dir)
    try:
        keys = []
        for slug, count, full in (
            ("bench", ASSETS, True),
            ("bench-two", SECOND_TENANT_ASSETS, False),
        ):
            tenant = await tenants.create_tenant(
                control, data_dir, slug=slug, name=slug, by=Who("bench"), now=utc_now()
            )
            # The default 100/min would throttle the load at once; the limiter still runs.
            _, key = await api_keys.create_key(
                control,
                tenant_id=tenant["id"],
                name="bench",
                level="read_write",
                rate_limit_per_minute=1_000_000,
                by=Who("bench"),
                now=utc_now(),
            )
            keys.append(key)
            ids = await _load_tenant(databases, tenant["id"], count, full)
            if full:
                main_ids = ids
            log(f"  tenant {slug}: {len(ids)} assets ({time.perf_counter() - started:.0f} s)")
        plant_assets = generate_plant(today=dt.date(2026, 11, 25), asset_count=5000).assets
    finally:
        databases.close()
        control.close()
    rng = random.Random(11)
    return Dataset(
        data_dir=str(data_dir),
        key=keys[0],
        second_key=keys[1],
        asset_ids=rng.sample(main_ids, 5000),
        search_terms=_search_terms(plant_assets, rng),
        build_seconds=round(time.perf_counter() - started, 1),
    )


if __name__ == "__main__":
    target = Path(sys.argv[1])
    dataset = asyncio.run(build(target))
    dataset.save(target / "bench-dataset.json")
    print(f"built in {dataset.build_seconds} s; key {dataset.key}")
