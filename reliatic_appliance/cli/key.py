"""`reliatic key create|list|revoke`."""

from __future__ import annotations

import argparse
from datetime import datetime
from types import MappingProxyType
from typing import Any

from reliatic_appliance.cli.context import CliContext, CliError, cli_who, table
from reliatic_appliance.ports import ControlDb
from reliatic_appliance.services import api_keys, tenants
from reliatic_appliance.services.paging import PageRequest
from reliatic_appliance.timefmt import utc_now

TABLE_WIDTH = 100
# Levels in the table as one short word: the full names cost the name column five characters.
_LEVEL_WORDS = MappingProxyType({"read_only": "read", "read_write": "write"})


def _expiry(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError("give a time zone, e.g. 2027-01-01T00:00:00Z")
    return moment


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    parser = sub.add_parser("key", help="manage API keys")
    commands = parser.add_subparsers(dest="key_command", required=True, metavar="COMMAND")
    create = commands.add_parser(
        "create",
        parents=[common],
        help="create a key and print it once",
        epilog=(
            "example: reliatic key create --tenant demo --name 'SAP PM sync'"
            " --level read_write --scope assets:write"
        ),
    )
    create.add_argument("--tenant", required=True, metavar="SLUG")
    create.add_argument("--name", required=True)
    create.add_argument("--level", required=True, choices=["read_only", "read_write"])
    create.add_argument(
        "--scope",
        action="append",
        default=[],
        metavar="S",
        help="narrow to a domain scope (assets:read, ...) or add an admin permission"
        " (api_keys:read|write, webhooks:read|write, audit:read); repeatable",
    )
    create.add_argument("--expires", type=_expiry, metavar="ISO8601")
    create.add_argument("--rate-limit", type=int, metavar="N", help="requests/min for this key")
    create.set_defaults(run=run_create)
    listing = commands.add_parser("list", parents=[common], help="list a tenant's keys (masked)")
    listing.add_argument("--tenant", required=True, metavar="SLUG")
    listing.set_defaults(run=run_list)
    revoke = commands.add_parser(
        "revoke", parents=[common], help="revoke a key; the server refuses it at once"
    )
    revoke.add_argument("key_id", metavar="KEY_ID")
    revoke.set_defaults(run=run_revoke)


async def run_create(ctx: CliContext, args: argparse.Namespace) -> int:
    if args.rate_limit is not None and not 1 <= args.rate_limit <= 1_000_000:
        raise CliError("--rate-limit must be between 1 and 1000000")
    async with ctx.control() as control:
        tenant = await tenants.get_tenant(control, args.tenant)
        record, key = await api_keys.create_key(
            control,
            tenant_id=tenant["id"],
            name=args.name,
            level=args.level,
            scopes=args.scope,
            expires_at=args.expires,
            rate_limit_per_minute=args.rate_limit,
            by=cli_who(),
            now=utc_now(),
        )
    payload = {
        "id": record["id"],
        "key": key,
        "name": record["name"],
        "level": record["level"],
        "permissions": record["permissions"],
        "expires_at": record["expires_at"],
    }
    ctx.emit(
        payload,
        [
            f"created key {record['id']} ({record['level']}) for tenant {args.tenant}",
            f"key: {key}",
            "This is the only time the key is shown; store it now.",
        ],
    )
    return 0


async def run_list(ctx: CliContext, args: argparse.Namespace) -> int:
    async with ctx.control() as control:
        tenant = await tenants.get_tenant(control, args.tenant)
        rows = await all_keys(control, tenant["id"])
    now = utc_now()
    # A terminal's 100 columns (issue 11): the id in full (`key revoke` needs it), dates
    # without times, no permissions, and the name cut to what is left; --json has it all.
    lines = table(
        [_list_row(r, now) for r in rows],
        ("ID", "NAME", "PREFIX", "LEVEL", "CREATED", "LAST USED", "STATE"),
        width=TABLE_WIDTH,
        shrink=1,
    )
    ctx.emit(rows, lines)
    return 0


async def all_keys(control: ControlDb, tenant_id: str) -> list[dict[str, Any]]:
    """Every key of a tenant (masked), page by page through the service the API lists with."""
    rows: list[dict[str, Any]] = []
    page = 1
    while True:
        result = await api_keys.list_keys(control, tenant_id, PageRequest(page, 100))
        rows += result.items
        if page >= result.total_pages:
            return rows
        page += 1


def _list_row(key: dict[str, Any], now: datetime) -> tuple[str, ...]:
    last_used = key["last_used_at"]
    return (
        key["id"],
        key["name"],
        key["prefix"],
        _LEVEL_WORDS.get(key["level"], key["level"]),
        key["created_at"][:10],
        last_used[:10] if last_used else "never",
        _state(key, now),
    )


def _state(key: dict[str, Any], now: datetime) -> str:
    if key["revoked_at"] is not None:
        return "revoked"
    expires = key["expires_at"]
    if expires is not None and datetime.fromisoformat(expires) <= now:
        return "expired"  # the same rule authentication applies (services/api_keys.py)
    return "active"


async def run_revoke(ctx: CliContext, args: argparse.Namespace) -> int:
    async with ctx.control() as control:
        record = await api_keys.revoke_key(
            control, args.key_id, tenant_id=None, by=cli_who(), now=utc_now()
        )
    ctx.emit(record, f"revoked key {record['id']}")
    return 0
