"""`reliatic tenant create|list|disable|enable`."""

from __future__ import annotations

import argparse

from reliatic_appliance.cli.context import CliContext, cli_who, table
from reliatic_appliance.services import tenants
from reliatic_appliance.timefmt import utc_now


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    parser = sub.add_parser("tenant", help="manage tenants")
    commands = parser.add_subparsers(dest="tenant_command", required=True, metavar="COMMAND")
    create = commands.add_parser(
        "create",
        parents=[common],
        help="create a tenant and its database file",
        epilog="example: reliatic tenant create refinery-north --name 'Refinery North'",
    )
    create.add_argument("slug", help="^[a-z0-9][a-z0-9-]{1,62}$")
    create.add_argument("--name", help="display name (default: the slug)")
    create.add_argument("--rate-limit", type=int, metavar="N", help="requests/min per key")
    create.set_defaults(run=run_create)
    listing = commands.add_parser("list", parents=[common], help="list tenants")
    listing.set_defaults(run=run_list)
    disable = commands.add_parser(
        "disable", parents=[common], help="disable a tenant: its keys stop working at once"
    )
    disable.add_argument("slug")
    disable.set_defaults(run=run_disable)
    enable = commands.add_parser(
        "enable",
        parents=[common],
        help="enable a disabled tenant: its keys (not revoked or expired) work again at once",
    )
    enable.add_argument("slug")
    enable.set_defaults(run=run_enable)


async def run_create(ctx: CliContext, args: argparse.Namespace) -> int:
    async with ctx.control() as control:
        tenant = await tenants.create_tenant(
            control,
            ctx.data_dir,
            slug=args.slug,
            name=args.name,
            rate_limit_per_minute=args.rate_limit,
            by=cli_who(),
            now=utc_now(),
        )
    ctx.emit(tenant, f"created tenant {tenant['slug']} ({tenant['id']})")
    return 0


async def run_list(ctx: CliContext, args: argparse.Namespace) -> int:
    async with ctx.control() as control:
        rows = await tenants.list_tenants(control)
    ctx.emit(
        rows,
        table(
            [
                (r["slug"], r["name"], r["rate_limit_per_minute"], r["disabled_at"], r["id"])
                for r in rows
            ],
            ("SLUG", "NAME", "RATE_LIMIT", "DISABLED_AT", "ID"),
        ),
    )
    return 0


async def run_disable(ctx: CliContext, args: argparse.Namespace) -> int:
    async with ctx.control() as control:
        tenant = await tenants.disable_tenant(control, args.slug, by=cli_who(), now=utc_now())
    ctx.emit(tenant, f"disabled tenant {tenant['slug']}")
    return 0


async def run_enable(ctx: CliContext, args: argparse.Namespace) -> int:
    async with ctx.control() as control:
        tenant = await tenants.enable_tenant(control, args.slug, by=cli_who(), now=utc_now())
    ctx.emit(tenant, f"enabled tenant {tenant['slug']}")
    return 0
