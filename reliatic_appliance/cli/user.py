"""`reliatic user create|list|disable|invite`: the admin panel's users (SPEC §2, §10)."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from reliatic_appliance.cli.context import CliContext, CliError, cli_who, table
from reliatic_appliance.domain.permissions import ROLES, UserRole
from reliatic_appliance.errors import ValidationError
from reliatic_appliance.ports import ControlDb
from reliatic_appliance.services import tenants, users
from reliatic_appliance.services.paging import PageRequest
from reliatic_appliance.services.passwords import PasswordHasher, check_policy
from reliatic_appliance.timefmt import utc_now


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    parser = sub.add_parser("user", help="manage users of the admin panel")
    commands = parser.add_subparsers(dest="user_command", required=True, metavar="COMMAND")
    create = commands.add_parser(
        "create",
        parents=[common],
        help="create a user (asks for the password twice, or reads it from stdin)",
        epilog=(
            "example: reliatic user create --tenant demo --email ann@plant.example --role admin"
            "   |   printf '%%s' \"$PW\" | reliatic user create --tenant demo"
            " --email bob@plant.example --role engineer --password-stdin"
        ),
    )
    create.add_argument("--tenant", required=True, metavar="SLUG")
    create.add_argument("--email", required=True, metavar="E")
    create.add_argument("--role", choices=ROLES, default=UserRole.ADMIN.value)
    create.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input (its first line) instead of prompting",
    )
    create.set_defaults(run=run_create)
    listing = commands.add_parser(
        "list",
        parents=[common],
        help="list a tenant's users",
        epilog="example: reliatic user list --tenant demo --json",
    )
    listing.add_argument("--tenant", required=True, metavar="SLUG")
    listing.set_defaults(run=run_list)
    disable = commands.add_parser(
        "disable",
        parents=[common],
        help="disable a user and end its sessions at once",
        epilog="example: reliatic user disable usr_01J...",
    )
    disable.add_argument("user_id", metavar="ID")
    disable.set_defaults(run=run_disable)
    invite = commands.add_parser(
        "invite",
        parents=[common],
        help="make a one-time registration link (valid 7 days)",
        epilog="example: reliatic user invite --tenant demo --role admin --email ann@plant.example",
    )
    invite.add_argument("--tenant", required=True, metavar="SLUG")
    invite.add_argument("--role", choices=ROLES, default=UserRole.ADMIN.value)
    invite.add_argument("--email", metavar="E", help="only this address may register with it")
    invite.set_defaults(run=run_invite)


def read_password(from_stdin: bool) -> str:
    """The new password: stdin's first line, or typed twice on a terminal."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        if not sys.stdin.isatty():
            raise CliError("no terminal to ask for the password on; use --password-stdin")
        password = getpass.getpass("Password: ")
        check_password(password)
        if getpass.getpass("Password (again): ") != password:
            raise CliError("the two passwords differ; nothing was created")
    check_password(password)
    return password


def check_password(password: str) -> None:
    if not password:
        raise CliError("the password is empty")
    try:
        check_policy(password)
    except ValidationError as exc:
        raise CliError(f"the password {exc.details[0]['message']}") from None


async def run_create(ctx: CliContext, args: argparse.Namespace) -> int:
    users.normalise_email(args.email)  # a bad address fails before the password is asked
    password = read_password(args.password_stdin)
    async with ctx.control() as control:
        tenant = await tenants.get_tenant(control, args.tenant)
        record = await users.create_user(
            control,
            PasswordHasher(1),
            tenant_id=tenant["id"],
            email=args.email,
            role=args.role,
            password=password,
            by=cli_who(),
            now=utc_now(),
        )
    ctx.emit(
        record,
        f"created user {record['id']} ({record['email']}, {record['role']}) for tenant"
        f" {args.tenant}",
    )
    return 0


async def all_users(control: ControlDb, tenant_id: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    page = 1
    while True:
        result = await users.list_users(control, tenant_id, PageRequest(page, 100))
        rows += result.items
        if page >= result.total_pages:
            return rows
        page += 1


async def run_list(ctx: CliContext, args: argparse.Namespace) -> int:
    async with ctx.control() as control:
        tenant = await tenants.get_tenant(control, args.tenant)
        rows = await all_users(control, tenant["id"])
    lines = table(
        [
            (
                r["id"],
                r["email"],
                r["role"],
                r["created_at"][:10],
                "disabled" if r["disabled_at"] else "active",
            )
            for r in rows
        ],
        ("ID", "EMAIL", "ROLE", "CREATED", "STATE"),
        width=100,
        shrink=1,
    )
    ctx.emit(rows, lines)
    return 0


async def run_disable(ctx: CliContext, args: argparse.Namespace) -> int:
    async with ctx.control() as control:
        record = await users.disable_user(
            control, args.user_id, tenant_id=None, by=cli_who(), now=utc_now()
        )
    ctx.emit(record, f"disabled user {record['id']} ({record['email']}); its sessions ended")
    return 0


async def run_invite(ctx: CliContext, args: argparse.Namespace) -> int:
    async with ctx.control() as control:
        tenant = await tenants.get_tenant(control, args.tenant)
        invitation = await users.invite(
            control,
            tenant_id=tenant["id"],
            role=args.role,
            email=args.email,
            by=cli_who(),
            now=utc_now(),
        )
    record = invitation.record
    payload = {**record, "token": invitation.token, "link": invitation.link}
    ctx.emit(
        payload,
        [
            f"invitation {record['id']} ({record['role']}) for tenant {args.tenant},"
            f" valid until {record['expires_at']}",
            f"link: {invitation.link}",
            "Open it on the server's address (e.g. https://HOST:PORT"
            f"{invitation.link}); it works once and is shown only now.",
        ],
    )
    return 0
