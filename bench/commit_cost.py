"""CPU a write of new assets costs, with the `search` index merged in the write or later.

    python bench/commit_cost.py [--data DIR] [--writes 300] [--group 30] [--rounds 2]
    make bench-commit DATA_DIR=DIR COMMIT_ARGS="--rounds 4"

DIR is a data dir kept by `bench/run.py --keep` (100k assets, their trigram `search` index);
without one the bench's dataset is built first (about a minute). Its tenant file is copied
once per variant, so the kept dir is left as it was:

Both copies have their index merged first (a backlog of segments is merged by the writes
that follow while automerge is on: the first run of this tool, over a dir `make bench` had
loaded, counted 1.4 ms for a one-asset write against 1.0 ms once merged).

- "merged in the write": FTS5's default `automerge` 4, as before migration 0010: each
  commit that indexes a row also merges index segments there and then;
- "merged by housekeeping": `automerge` 0 (migration 0010), and the merging done afterwards
  by the scheduler's merging step (`services.assets.tidy_search_index`, each tick), timed
  too, so the work moved out of the write is counted where it went.

For each: `--writes` writes of one asset (one commit each: what a CMMS posting one record at
a time costs), then `--writes` / `--group` writes of `--group` assets (what group commit does
under load), through the project's own `insert_new_asset` and writer thread. CPU is the
process's user + system time (every thread: the writer's COMMIT and fsync included) over
the assets written; rounds alternate the variants. Figures move with the machine's load by
10-20 %; the ratio between the variants, taken in the same round, much less.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dataset import Dataset

from reliatic_appliance.ports import TenantTx
from reliatic_appliance.services.assets import insert_new_asset, tidy_search_index
from reliatic_appliance.storage.sqlite import connect
from reliatic_appliance.storage.tenancy import TenantDatabases, tenant_file
from reliatic_appliance.timefmt import utc_now

VARIANTS = {"merged in the write": 4, "merged by housekeeping": 0}
ASSET = {
    "name": "Bench charge pump",
    "asset_type": "rotating",
    "status": "active",
    "description": "Load test asset: API 610 pump in crude oil service",
    "nominal_thickness_mm": 12.7,
    "required_thickness_mm": 8.1,
}


@dataclass
class Cost:
    """Microseconds of CPU per asset written."""

    single: float  # one asset per commit
    grouped: float  # `group` assets per commit
    merge: float  # housekeeping's merging afterwards, per asset written (0 when in the write)

    @property
    def total(self) -> float:
        """Per asset, over both kinds of write and the merging they left."""
        return (self.single + self.grouped) / 2 + self.merge


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _measure(data_dir: Path, tenant_id: str, writes: int, group: int, tag: str) -> Cost:
    databases = TenantDatabases(data_dir)
    try:
        db = await databases.get(tenant_id)

        async def write(count: int, label: str) -> float:
            """CPU seconds of `writes // count` writes of `count` assets each."""
            started = _cpu()
            for i in range(writes // count):

                def job(tx: TenantTx, i: int = i) -> None:
                    for j in range(count):
                        asset = {**ASSET, "tag_number": f"CC-{tag}-{label}-{i}-{j}"}
                        insert_new_asset(tx, asset, actor="key_bench", now=utc_now())

                await db.write(job)
            return _cpu() - started

        written = (writes // group) * group
        single = await write(1, "s") / writes
        grouped = await write(group, "g") / written
        started = _cpu()
        while await tidy_search_index(db):
            pass
        merge = (_cpu() - started) / (writes + written)
        return Cost(single * 1e6, grouped * 1e6, merge * 1e6)
    finally:
        databases.close()


def _copy(data: Dataset, tenant_id: str, tmp: Path, automerge: int) -> Path:
    """A data dir holding a copy of the tenant's file, its index merging set to `automerge`."""
    target = tmp / f"automerge-{automerge}"
    source = Path(data.data_dir)
    target.mkdir()
    shutil.copy2(source / "control.db", target / "control.db")
    shutil.copytree(source / "tenants", target / "tenants")
    conn = connect(tenant_file(target, tenant_id))
    try:
        conn.execute(
            "INSERT INTO asset_search (asset_search, rank) VALUES ('automerge', ?)", (automerge,)
        )
        # Both start from a merged index: a backlog of segments (the load of `make bench`
        # leaves one) is merged by whichever writes come next while automerge is on, and
        # would be counted against the variant that merges in the write.
        while True:
            before = conn.total_changes()
            conn.execute("INSERT INTO asset_search (asset_search, rank) VALUES ('merge', 2000)")
            if conn.total_changes() - before < 2:
                break
    finally:
        conn.close()
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="a bench/run.py --keep dir (else built)")
    parser.add_argument("--writes", type=int, default=300)
    parser.add_argument("--group", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    # On disk, not /tmp: two copies of a 1 GB tenant file, and /tmp may be a tmpfs, whose
    # fsync costs nothing and would hide the commit's disk work.
    tmp = Path(tempfile.mkdtemp(prefix="reliatic-commit-cost-", dir="/var/tmp"))
    costs: dict[str, list[Cost]] = {name: [] for name in VARIANTS}
    try:
        data = Dataset.kept_or_built(args.data, tmp)
        tenant_id = data.bench_tenant_file().stem
        dirs = {name: _copy(data, tenant_id, tmp, am) for name, am in VARIANTS.items()}
        for round_ in range(args.rounds):
            names = list(VARIANTS) if round_ % 2 == 0 else list(VARIANTS)[::-1]
            for name in names:
                tag = f"{round_}{int(time.time() * 1000) % 10**8}"
                cost = asyncio.run(_measure(dirs[name], tenant_id, args.writes, args.group, tag))
                costs[name].append(cost)
                print(
                    f"round {round_ + 1} {name:24} single {cost.single:7.0f} us"
                    f"  grouped {cost.grouped:6.0f} us  merge after {cost.merge:5.0f} us",
                    flush=True,
                )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\nCPU per asset written (median of {args.rounds} rounds), µs")
    print(
        "\n| index merged | one asset per commit | "
        f"{args.group} per commit | merging afterwards | per asset, all in |"
    )
    print("|---|---:|---:|---:|---:|")
    for name, runs in costs.items():
        cells = [
            statistics.median(getattr(c, field) for c in runs)
            for field in ("single", "grouped", "merge", "total")
        ]
        print(f"| {name} | " + " | ".join(f"{v:,.0f}" for v in cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
