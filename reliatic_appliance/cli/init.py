"""`reliatic init`: the data dir layout, control.db and the master secret (idempotent)."""

from __future__ import annotations

import argparse

from reliatic_appliance.cli.context import CliContext
from reliatic_appliance.storage.layout import initialise


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    parser = sub.add_parser(
        "init",
        parents=[common],
        help="create the data dir, control.db and the master secret (idempotent)",
        description="Create the data dir layout. Safe to run again: nothing is overwritten.",
        epilog="example: reliatic --data-dir /var/lib/reliatic init",
    )
    parser.set_defaults(run=run)


async def run(ctx: CliContext, args: argparse.Namespace) -> int:
    result = initialise(ctx.data_dir, ctx.settings.storage.busy_timeout_ms)
    ctx.emit(result, f"initialised {ctx.data_dir}")
    return 0
