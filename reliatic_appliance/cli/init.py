"""`reliatic init`: the data dir layout, control.db and the master secret (idempotent);
with `--tls`, a self-signed certificate and the config that serves HTTPS (cli/tls.py).
On PostgreSQL it also migrates the database, as a server's first start would. The layout
is the same on both backends: control.db marks an initialised data dir (selftest, the hints
of cli/context.py), though on PostgreSQL the data is not in it."""

from __future__ import annotations

import argparse

from reliatic_appliance.cli.context import CliContext, CliError
from reliatic_appliance.cli.tls import run_init_tls
from reliatic_appliance.storage.backends import is_postgresql
from reliatic_appliance.storage.layout import initialise


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    parser = sub.add_parser(
        "init",
        parents=[common],
        help="create the data dir, control.db and the master secret (idempotent)",
        description=(
            "Create the data dir layout. Safe to run again: nothing is overwritten. With --tls,"
            " only make a self-signed certificate and key in a tls/ directory beside the config"
            " file, and set [server] tls_cert and tls_key in that file so serve speaks HTTPS."
        ),
        epilog=(
            "examples: reliatic --data-dir /var/lib/reliatic init ;"
            " sudo reliatic init --tls --host reliatic.plant.local --host 10.1.2.3"
        ),
    )
    parser.add_argument(
        "--tls",
        action="store_true",
        help="make a self-signed certificate (kept if one exists) and configure serve to use it",
    )
    parser.add_argument(
        "--host",
        dest="hosts",
        action="append",
        default=[],
        metavar="NAME",
        help="with --tls: a host name or address for the certificate, repeatable (default: this"
        " host's name, FQDN and addresses); localhost is always included",
    )
    parser.add_argument(
        "--force", action="store_true", help="with --tls: replace an existing certificate"
    )
    # --config FILE may name a file --tls is about to create.
    parser.set_defaults(run=run, may_create_config=lambda a: a.tls)


async def run(ctx: CliContext, args: argparse.Namespace) -> int:
    if args.tls:
        return run_init_tls(
            ctx, config=getattr(args, "config", None), hosts=args.hosts, force=args.force
        )
    if args.hosts or args.force:
        raise CliError("--host and --force go with --tls")
    result = initialise(ctx.data_dir, ctx.settings.storage.busy_timeout_ms)
    if not is_postgresql(ctx.settings):
        ctx.emit(result, f"initialised {ctx.data_dir}")
        return 0
    # The database as the first start would leave it: migrated, the server's role checked.
    async with ctx.tenant_files():
        pass
    result["database"] = "postgresql: migrated"
    ctx.emit(result, f"initialised {ctx.data_dir} and the PostgreSQL database (migrated)")
    return 0
