"""`reliatic import assets` / `reliatic export assets` (SPEC §2): the asset register as CSV.

The file format and the all-or-nothing rule live in `services/asset_csv.py`; this module
reads and writes files, draws progress and prints the report. It works while the server
runs: the import is one short write transaction on the tenant's file (its rows checked
before it begins), which the server sees at once; it waits for the server's writer like
any writer does, for at most `[storage] busy_timeout_ms`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from reliatic_appliance.cli.context import CliContext, CliError, cli_who
from reliatic_appliance.cli.progress import ProgressBar
from reliatic_appliance.ports import TenantDb
from reliatic_appliance.services import tenants
from reliatic_appliance.services.asset_csv import (
    CsvFileError,
    ImportRefused,
    export_assets,
    import_assets,
    parse_assets,
)
from reliatic_appliance.timefmt import utc_now


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    importing = sub.add_parser("import", help="load records from a CSV file")
    what = importing.add_subparsers(dest="import_what", required=True, metavar="WHAT")
    assets = what.add_parser(
        "assets",
        parents=[common],
        help="load assets from CSV: every row, or none",
        description=(
            "Reads a CSV file whose first row names the columns with the API's asset fields"
            " (tag_number, name, asset_type, ...); ',' or ';' separated; UTF-8 with or"
            " without a BOM; an empty cell is a field not given. Every row is checked as"
            " POST /api/v1/assets would check it; if any row has a problem, the report names"
            " each row, field and reason and nothing is written. Otherwise all rows are"
            " written in one transaction, each with its asset.created event."
        ),
        epilog="example: reliatic import assets --tenant demo register.csv",
    )
    assets.add_argument("--tenant", required=True, metavar="SLUG")
    assets.add_argument("file", metavar="FILE.csv", help="the file; '-' reads standard input")
    assets.set_defaults(run=run_import)

    exporting = sub.add_parser("export", help="write records as a CSV file")
    what = exporting.add_subparsers(dest="export_what", required=True, metavar="WHAT")
    assets = what.add_parser(
        "assets",
        parents=[common],
        help="write every asset as CSV",
        description=(
            "Writes every asset (all statuses) as CSV: a header of the API's field names,"
            " ',' separated, UTF-8, values as the API writes them. A text that a spreadsheet"
            " would run as a formula gets a leading ' (import removes it), so the file can"
            " be imported again as it is."
        ),
        epilog="example: reliatic export assets --tenant demo --out register.csv",
    )
    assets.add_argument("--tenant", required=True, metavar="SLUG")
    assets.add_argument("--out", metavar="FILE", help="write here (default: standard output)")
    assets.add_argument(
        "--bom",
        action="store_true",
        help="start with a UTF-8 BOM, so Excel opens non-ASCII text correctly",
    )
    assets.set_defaults(run=run_export)


@asynccontextmanager
async def _tenant_db(ctx: CliContext, slug: str) -> AsyncIterator[TenantDb]:
    """The tenant's file, if the tenant exists and is enabled."""
    async with ctx.control() as control:
        tenant = await tenants.get_tenant(control, slug)
    if tenant["disabled_at"] is not None:
        raise CliError(f"tenant '{slug}' is disabled; 'reliatic tenant enable {slug}' first")
    async with ctx.tenant_files() as databases:
        yield await databases.get(tenant["id"])


def _read(name: str) -> bytes:
    if name == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(name).read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {name}: {exc.strerror or exc}") from None


async def run_import(ctx: CliContext, args: argparse.Namespace) -> int:
    data = _read(args.file)
    started = time.monotonic()
    async with _tenant_db(ctx, args.tenant) as db:
        bar = ProgressBar("checking", total=data.count(b"\n"))
        try:
            parsed = parse_assets(data, progress=bar)
        except CsvFileError as exc:
            raise CliError(f"{args.file}: {exc}") from None
        finally:
            bar.close()
        checked = time.monotonic()
        bar = ProgressBar("writing ", total=len(parsed.assets))
        try:
            # The events' actor, where a request's is its key id: the operator (`cli:<login>`),
            # as the audit log names them.
            imported = await import_assets(
                db, parsed, actor=cli_who().actor, now=utc_now(), progress=bar
            )
        except ImportRefused as refused:
            bar.close()
            return _refused(ctx, args, refused)
        bar.close()
    seconds = time.monotonic() - started
    rate = imported / seconds if seconds > 0 else 0.0
    notes = []
    if parsed.ignored_columns:
        notes.append(f"ignored the read-only columns {', '.join(parsed.ignored_columns)}")
    ctx.emit(
        {
            "tenant": args.tenant,
            "file": args.file,
            "imported": imported,
            "ignored_columns": parsed.ignored_columns,
            "seconds": round(seconds, 3),
            "check_seconds": round(checked - started, 3),
            "write_seconds": round(seconds - (checked - started), 3),
            "rows_per_second": round(rate),
        },
        [
            f"imported {imported} assets into tenant '{args.tenant}' in {seconds:.2f} s"
            f" ({rate:,.0f} rows/s), each with its asset.created event",
            *notes,
        ],
    )
    return 0


def _refused(ctx: CliContext, args: argparse.Namespace, refused: ImportRefused) -> int:
    """The report on stdout (it is what was asked for); the one-line error on stderr."""
    problems = refused.problems
    rows = len({p.row for p in problems})
    payload: dict[str, Any] = {
        "tenant": args.tenant,
        "file": args.file,
        "imported": 0,
        "rows": refused.rows,
        "problems": [p.as_dict() for p in problems],
    }
    lines = [
        f"row {p.row}, {p.field}: {p.message}" if p.field else f"row {p.row}: {p.message}"
        for p in problems
    ]
    ctx.emit(payload, lines)
    sys.stdout.flush()
    s = "" if len(problems) == 1 else "s"
    in_rows = "the header row" if rows == 1 and problems[0].row == 1 else f"{rows} row(s)"
    print(
        f"reliatic: error: {args.file}: {len(problems)} problem{s} in {in_rows};"
        " nothing was imported",
        file=sys.stderr,
    )
    return 1


async def run_export(ctx: CliContext, args: argparse.Namespace) -> int:
    async with _tenant_db(ctx, args.tenant) as db:
        total = await db.read(lambda tx: tx.assets.count_all())
        bar = ProgressBar("exporting", total=total)
        try:
            if args.out is None:
                count = await _export_to(db, sys.stdout, args.bom, bar)
            else:
                count = await _export_file(db, Path(args.out), args.bom, bar)
        finally:
            bar.close()
    if args.out is not None:
        ctx.emit(
            {"tenant": args.tenant, "out": args.out, "exported": count},
            f"exported {count} assets of tenant '{args.tenant}' to {args.out}",
        )
    return 0


async def _export_to(db: TenantDb, out: Any, bom: bool, bar: ProgressBar) -> int:
    if bom:
        out.write("\ufeff")
    return await export_assets(db, out, progress=bar)


async def _export_file(db: TenantDb, path: Path, bom: bool, bar: ProgressBar) -> int:
    """Written beside the target and renamed into place: never a half-written file."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        with partial.open("w", encoding="utf-8", newline="") as out:
            count = await _export_to(db, out, bom, bar)
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise CliError(f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return count
