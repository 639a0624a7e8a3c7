"""CSV import and export of assets, timed (issue 14: "the note gives rows per second").

For each size, a fresh data dir with one tenant and one webhook subscribed to
`asset.created` (a CMMS listening, so every row also writes its outbox row); a realistic
register from the demo plant's generator (real tag numbers, descriptions, materials),
written as a spreadsheet would write it; then the real command, as an operator runs it:
`reliatic import assets`, then `reliatic export assets --out`, then the export imported
again into an empty tenant (the round trip). Prints rows per second for each, measured by
the command itself (from reading the file to COMMIT) and by the wall clock around the
process (which adds Python's start-up, about half a second).

    .venv/bin/python bench/csv_import.py                 # 10,000 and 100,000 assets
    .venv/bin/python bench/csv_import.py --sizes 2000    # a quick look
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reliatic_appliance.demo.equipment import build_assets
from reliatic_appliance.services.asset_csv import CREATE_FIELDS
from reliatic_appliance.storage.sqlite import connect

CLI = [sys.executable, "-m", "reliatic_appliance"]
LAST_CPU = [0.0]  # CPU seconds of the last command run


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def reliatic(data_dir: Path, *args: str) -> tuple[float, Any]:
    """Run one command; (wall seconds, its --json output). `cpu_seconds` below then holds
    the CPU time it used: on a shared machine the wall clock also measures the others."""
    started = time.perf_counter()
    before = _children_cpu()
    result = subprocess.run(
        [*CLI, "--data-dir", str(data_dir), *args, "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    LAST_CPU[0] = _children_cpu() - before
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {result.stderr}\n{result.stdout[:2000]}")
    return wall, json.loads(result.stdout) if result.stdout.strip() else None


def write_register(path: Path, count: int) -> None:
    """The demo plant's assets as a CSV a spreadsheet would save: `;`, a BOM, empty cells."""
    assets = build_assets(random.Random(14), dt.date(2026, 11, 25), count)
    columns = [c for c in CREATE_FIELDS if not c.startswith("_")]
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out, delimiter=";")
        writer.writerow(columns)
        for asset in assets:
            writer.writerow(["" if asset.get(c) is None else asset[c] for c in columns])


class LockProbe:
    """Another writer on the tenant's file, as the server's is: it takes the write lock every
    20 ms and keeps the longest it had to wait, i.e. how long the import held the lock."""

    def __init__(self, path: Path) -> None:
        self._conn = connect(path, busy_timeout_ms=600_000)
        self._stop = threading.Event()
        self.longest = 0.0
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.perf_counter()
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.execute("COMMIT")
            self.longest = max(self.longest, time.perf_counter() - started)
            self._stop.wait(0.02)

    def __enter__(self) -> LockProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._conn.close()


def measure(size: int, tmp: Path) -> dict[str, Any]:
    data_dir = tmp / f"data-{size}"
    reliatic(data_dir, "init")
    for slug in ("bench", "bench-copy"):
        reliatic(data_dir, "tenant", "create", slug)
    reliatic(
        data_dir,
        "webhook",
        "add",
        "--tenant",
        "bench",
        "--url",
        "https://cmms.plant.example/hooks/reliatic",
        "--event",
        "asset.created",
    )
    register = tmp / f"register-{size}.csv"
    write_register(register, size)
    load = os.getloadavg()[0]
    _, tenants = reliatic(data_dir, "tenant", "list")
    bench_id = next(t["id"] for t in tenants if t["slug"] == "bench")
    with LockProbe(data_dir / "tenants" / f"{bench_id}.db") as probe:
        wall, imported = reliatic(data_dir, "import", "assets", "--tenant", "bench", str(register))
    import_cpu = LAST_CPU[0]
    assert imported["imported"] == size, imported
    exported_path = tmp / f"export-{size}.csv"
    export_wall, _ = reliatic(
        data_dir, "export", "assets", "--tenant", "bench", "--out", str(exported_path)
    )
    export_cpu = LAST_CPU[0]
    _, again = reliatic(data_dir, "import", "assets", "--tenant", "bench-copy", str(exported_path))
    assert again["imported"] == size, again
    return {
        "size": size,
        "file_mb": register.stat().st_size / 1e6,
        "import_s": imported["seconds"],
        "check_s": imported["check_seconds"],
        "write_s": imported["write_seconds"],
        "import_rate": size / imported["seconds"],
        "import_wall_rate": size / wall,
        "export_wall_s": export_wall,
        "export_wall_rate": size / export_wall,
        "reimport_rate": size / again["seconds"],
        "import_cpu_rate": size / import_cpu,
        "export_cpu_rate": size / export_cpu,
        "load": load,
        "locked_s": probe.longest,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="reliatic-csv-bench-") as tmp:
        for size in args.sizes:
            rows.append(measure(size, Path(tmp)))
    print(
        "| assets | file MB | import s (check + write) | import rows/s | with start-up"
        " | per CPU-second | export rows/s | per CPU-second | export imported again rows/s"
        " | write lock held s | load average |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['size']:,} | {r['file_mb']:.1f} | {r['import_s']:.2f}"
            f" ({r['check_s']:.2f} + {r['write_s']:.2f}) | {r['import_rate']:,.0f}"
            f" | {r['import_wall_rate']:,.0f} | {r['import_cpu_rate']:,.0f}"
            f" | {r['export_wall_rate']:,.0f} | {r['export_cpu_rate']:,.0f}"
            f" | {r['reimport_rate']:,.0f} | {r['locked_s']:.2f} | {r['load']:.1f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
