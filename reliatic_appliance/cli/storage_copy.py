"""`reliatic storage copy --to postgresql://…` (SPEC §11 "Moving up"): a stopped SQLite data
dir into an empty PostgreSQL database, verified table by table (storage/postgresql/copy.py)."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from reliatic_appliance.cli.context import CliContext, CliError, table
from reliatic_appliance.cli.progress import ProgressBar
from reliatic_appliance.storage.layout import master_key_file

CHECKSUM_SHOWN = 16


def storage_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """The `storage` group's subcommands, made by whichever module registers first, so each
    command module adds its own without knowing the others."""
    group = sub.choices.get("storage")
    if group is None:
        group = sub.add_parser(
            "storage",
            parents=[common],
            help="storage backend operations (PostgreSQL, SPEC §11)",
            description="Operations on the storage backend: moving a data dir to PostgreSQL.",
        )
        commands = group.add_subparsers(dest="storage_command", required=True, metavar="COMMAND")
        group.set_defaults(storage_commands=commands)
    found = group.get_default("storage_commands")
    assert isinstance(found, argparse._SubParsersAction)
    return found


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    copy = storage_commands(sub, common).add_parser(
        "copy",
        parents=[common],
        help="copy a stopped SQLite data dir into an empty PostgreSQL database, verified",
        description=(
            "Copy control.db and every tenant's file of the data dir (the server stopped) into"
            " the empty PostgreSQL database DSN, migrating it first, in one transaction; then"
            " compare every table's rows and checksum on both sides and commit only if all"
            " match (else exit 1, the target untouched). Connect as the role that owns the"
            " tables ([storage] admin_dsn). The master key is not copied: sealed webhook"
            " secrets go over as they are, and the PostgreSQL-backed server reads the key from"
            " its data dir's secret/, so keep this data dir's secret/ with it."
        ),
        epilog="example: sudo -u reliatic reliatic storage copy --to"
        " 'postgresql://reliatic_owner@db.plant.local/reliatic' (a password: PGPASSWORD or"
        " ~/.pgpass, not the command line)",
    )
    copy.add_argument(
        "--to", required=True, metavar="DSN", help="the target: a libpq URI or key=value string"
    )
    copy.add_argument(
        "--verify-only",
        action="store_true",
        help="compare a copy made before with the data dir; write nothing",
    )
    copy.set_defaults(run=run_copy)


async def run_copy(ctx: CliContext, args: argparse.Namespace) -> int:
    ctx.require_initialised()
    try:
        # Here, not at the top: psycopg is the optional `postgresql` extra, and every other
        # command must start without it.
        from reliatic_appliance.storage.postgresql.copy import (
            CopyError,
            copy_data_dir,
            describe_dsn,
        )
    except ImportError as exc:
        raise CliError(
            f"storage copy needs the PostgreSQL driver ({exc.name} is missing): install"
            " reliatic-appliance[postgresql]"
        ) from None
    copying = ProgressBar("copy", total=0, unit="rows")
    verifying = ProgressBar("verify", total=0, unit="rows")

    def copied(done: int, total: int) -> None:
        copying(done, total)

    def verified(done: int, total: int) -> None:
        copying.close()
        verifying(done, total)

    began = time.monotonic()
    try:
        result = copy_data_dir(
            ctx.data_dir,
            args.to,
            verify_only=args.verify_only,
            progress=copied,
            verify_progress=verified,
        )
    except CopyError as exc:
        raise CliError(str(exc)) from None
    finally:
        copying.close()
        verifying.close()
    seconds = round(time.monotonic() - began, 3)
    target = describe_dsn(args.to)
    key = master_key_file(ctx.data_dir)
    secret = (
        f"the master key was not copied: it stays in {key.parent}; the PostgreSQL-backed"
        " server needs it (this data dir as its data dir, or secret/ copied to its own, mode"
        " 0600) to sign with the webhook secrets it copied sealed"
    )
    bad = [t for t in result.tables if not t.ok]
    payload: dict[str, Any] = {
        "data_dir": str(ctx.data_dir),
        "target": target,
        "verify_only": args.verify_only,
        "seconds": seconds,
        "tenants": result.tenants,
        "rows": sum(t.source_rows for t in result.tables),
        "committed": result.committed,
        "ok": result.ok,
        "tables": [t.as_dict() for t in result.tables],
        "built_by_target": list(result.built_by_target),
        "master_key": secret,
    }
    lines = table(
        [
            (
                t.table,
                t.source_rows if t.ok else f"{t.source_rows} vs {t.target_rows}",
                t.source_checksum[:CHECKSUM_SHOWN],
                "ok" if t.ok else "DIFFERS: " + ", ".join(t.differing),
            )
            for t in result.tables
        ],
        ["table", "rows", "checksum", "ok"],
    )
    rows = payload["rows"]
    if args.verify_only:
        lines.append(f"compared {ctx.data_dir} with {target}: {rows:,} rows in {seconds:.1f} s")
    elif result.committed:
        lines.append(
            f"copied {rows:,} rows of {result.tenants} tenant(s) from {ctx.data_dir} into"
            f" {target} in {seconds:.1f} s; every table verified and committed"
        )
        lines.append(secret)
    ctx.emit(payload, lines)
    if bad:
        where = "; nothing was committed" if not args.verify_only else ""
        names = ", ".join(t.table for t in bad)
        print(
            f"reliatic: error: {len(bad)} table(s) differ between the data dir and the"
            f" target ({names}){where}",
            file=sys.stderr,
        )
        return 1
    return 0
