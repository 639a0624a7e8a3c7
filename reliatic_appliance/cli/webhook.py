"""`reliatic webhook add|list|remove|test|enable|disable|rotate-secret|deliveries|redeliver`
(SPEC §2, §7): manage subscriptions, and investigate and replay deliveries from a shell.

Every command calls the same services as `/api/v1/webhooks` with the same inputs: the request
model validates the arguments, the master key of the data dir encrypts the secret, and the
`[webhooks]` target policy of the settings decides which URLs are allowed. A running server
sees the change on its next tick (its scheduler reads the tenant file, not a cache).
Commands on one subscription or delivery take its id alone: ids are unique across tenants,
so the tenant whose file holds it is found (`_find`, `_find_delivery`).
"""

from __future__ import annotations

import argparse
from typing import Any

import pydantic

from reliatic_appliance.cli.context import CliContext, CliError, cli_who, table
from reliatic_appliance.domain.event_types import EVENT_TYPES
from reliatic_appliance.domain.retry import DeliveryStatus
from reliatic_appliance.domain.target_policy import TargetRefused, check_url
from reliatic_appliance.errors import NotFound, ValidationError
from reliatic_appliance.ports import ControlDb, TenantDb, TenantDirectory
from reliatic_appliance.schemas.webhooks import WebhookCreate
from reliatic_appliance.secretbox import SecretBox, SecretBoxError
from reliatic_appliance.services import tenants
from reliatic_appliance.services import webhooks as service
from reliatic_appliance.services.paging import PageRequest
from reliatic_appliance.storage.layout import master_key_file
from reliatic_appliance.timefmt import utc_now

Row = dict[str, Any]
MAX_LIMIT = 1000
# The API's largest page: --limit above it is read a page at a time.
_PAGE = 100
# Request-model fields as the user typed them, for one-line errors.
_FLAGS = {"url": "--url", "events": "--event", "secret": "--secret", "description": "--description"}


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    parser = sub.add_parser("webhook", help="manage webhook subscriptions")
    commands = parser.add_subparsers(dest="webhook_command", required=True, metavar="COMMAND")
    add = commands.add_parser(
        "add",
        parents=[common],
        help="subscribe a URL to event types; print the signing secret once",
        epilog=(
            "example: reliatic webhook add --tenant demo --url https://cmms.plant.local/hooks"
            " --event asset.updated --event action.status_changed --description 'SAP PM'"
        ),
    )
    add.add_argument("--tenant", required=True, metavar="SLUG")
    add.add_argument("--url", required=True, metavar="URL", help="https:// unless allow_http")
    add.add_argument(
        "--event",
        dest="events",
        action="extend",
        nargs="+",
        required=True,
        metavar="E",
        help=f"event type(s) to send, repeatable: {', '.join(EVENT_TYPES)}",
    )
    add.add_argument(
        "--secret",
        metavar="S",
        help="whsec_ + base64 of 24-64 bytes (default: generated)",
    )
    add.add_argument("--description", metavar="D")
    add.set_defaults(run=run_add)
    listing = commands.add_parser(
        "list", parents=[common], help="list a tenant's subscriptions (never their secrets)"
    )
    listing.add_argument("--tenant", required=True, metavar="SLUG")
    listing.set_defaults(run=run_list)
    remove = commands.add_parser(
        "remove",
        parents=[common],
        help="remove a subscription with its pending deliveries and log",
        epilog="example: reliatic webhook remove whk_01J...",
    )
    remove.add_argument("webhook_id", metavar="ID")
    remove.set_defaults(run=run_remove)
    test = commands.add_parser(
        "test",
        parents=[common],
        help="queue a ping to a subscription; print the delivery id",
        epilog="example: reliatic webhook test whk_01J... (the running server sends it)",
    )
    test.add_argument("webhook_id", metavar="ID")
    test.set_defaults(run=run_test)
    for name, enabled, text in (
        ("enable", True, "enable a subscription (after a 410 or 20 failures: counts afresh)"),
        ("disable", False, "disable a subscription: nothing is sent until it is enabled"),
    ):
        toggle = commands.add_parser(
            name, parents=[common], help=text, epilog=f"example: reliatic webhook {name} whk_01J..."
        )
        toggle.add_argument("webhook_id", metavar="ID")
        toggle.set_defaults(run=run_enable if enabled else run_disable)
    rotate = commands.add_parser(
        "rotate-secret",
        parents=[common],
        help="a new signing secret, printed once; the old one also signs for 24 h",
        epilog="example: reliatic webhook rotate-secret whk_01J... --json",
    )
    rotate.add_argument("webhook_id", metavar="ID")
    rotate.set_defaults(run=run_rotate)
    log = commands.add_parser(
        "deliveries",
        parents=[common],
        help="a subscription's delivery log, newest first: status, attempts, last answer",
        epilog="example: reliatic webhook deliveries whk_01J... --status failed --limit 50",
    )
    log.add_argument("webhook_id", metavar="ID")
    log.add_argument("--status", choices=[s.value for s in DeliveryStatus], help="only these")
    log.add_argument(
        "--limit", type=_limit, default=20, metavar="N", help="newest N (default 20, most 1000)"
    )
    log.set_defaults(run=run_deliveries)
    again = commands.add_parser(
        "redeliver",
        parents=[common],
        help="send a delivery again, same delivery id (receivers de-duplicate on it)",
        epilog="example: reliatic webhook redeliver dlv_01J... (the running server sends it)",
    )
    again.add_argument("delivery_id", metavar="DELIVERY_ID")
    again.set_defaults(run=run_redeliver)


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 1 <= value <= MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_LIMIT}")
    return value


def _secret_box(ctx: CliContext) -> SecretBox:
    try:
        return SecretBox.from_file(master_key_file(ctx.data_dir))
    except SecretBoxError as exc:
        raise CliError(str(exc)) from None


def _validated(ctx: CliContext, args: argparse.Namespace) -> WebhookCreate:
    """The arguments through the API's own request model and checks: the same rules."""
    fields = {"url": args.url, "events": args.events, "secret": args.secret}
    if args.description is not None:
        fields["description"] = args.description
    try:
        # The target policy first: its reasons say more than the model's URL pattern.
        check_url(args.url, service.target_policy(ctx.settings))
        return WebhookCreate.model_validate(fields)
    except TargetRefused as exc:
        raise CliError(f"--url: {exc.reason}") from None
    except pydantic.ValidationError as exc:
        error = exc.errors(include_url=False, include_input=False)[0]
        name = str(error["loc"][0])
        where = _FLAGS.get(name, name)
        if name == "events" and len(error["loc"]) > 1:
            bad = args.events[int(error["loc"][1])]
            raise CliError(f"{where}: unknown event type {bad!r}") from None
        if name == "secret":  # never echo a secret, not even a malformed one
            raise CliError(f"{where}: must be whsec_ + base64 of 24-64 bytes") from None
        if error["type"] == "string_pattern_mismatch" and name == "description":
            raise CliError(f"{where}: must not contain control characters") from None
        raise CliError(f"{where}: {error['msg']}") from None


async def _find(
    control: ControlDb, databases: TenantDirectory, webhook_id: str
) -> tuple[Row, TenantDb, Row]:
    """The tenant whose file holds `webhook_id` (ids are globally unique), its db and view."""
    for tenant in await tenants.list_tenants(control):
        db = await databases.get(tenant["id"])
        try:
            return tenant, db, await service.get_webhook(db, webhook_id)
        except NotFound:
            continue
    raise CliError(f"webhook {webhook_id} not found in any tenant")


async def _find_delivery(
    control: ControlDb, databases: TenantDirectory, delivery_id: str
) -> tuple[Row, TenantDb]:
    """The tenant whose file holds delivery `delivery_id`, and its db."""
    for tenant in await tenants.list_tenants(control):
        db = await databases.get(tenant["id"])
        try:
            await service.get_delivery(db, delivery_id)
        except NotFound:
            continue
        return tenant, db
    raise CliError(f"delivery {delivery_id} not found in any tenant")


async def run_add(ctx: CliContext, args: argparse.Namespace) -> int:
    body = _validated(ctx, args)
    box = _secret_box(ctx)
    async with ctx.control() as control, ctx.tenant_files() as databases:
        tenant = await tenants.get_tenant(control, args.tenant)
        try:
            row, secret = await service.create_webhook(
                await databases.get(tenant["id"]),
                box,
                service.target_policy(ctx.settings),
                url=body.url,
                events=list(body.events),
                secret=body.secret,
                enabled=body.enabled,
                description=body.description,
                by=cli_who(),
                now=utc_now(),
            )
        except ValidationError as exc:
            detail = exc.details[0] if exc.details else {}
            field = str(detail.get("field", ""))
            raise CliError(f"{_FLAGS.get(field, field)}: {detail.get('message', exc)}") from None
    ctx.emit(
        {**row, "secret": secret},
        [
            f"created webhook {row['id']} for tenant {args.tenant}: {row['url']}",
            f"events: {', '.join(row['events'])}",
            f"secret: {secret}",
            "This is the only time the secret is shown; store it now.",
        ],
    )
    return 0


async def run_list(ctx: CliContext, args: argparse.Namespace) -> int:
    async with ctx.control() as control, ctx.tenant_files() as databases:
        tenant = await tenants.get_tenant(control, args.tenant)
        db = await databases.get(tenant["id"])
        rows: list[Row] = []
        page = 1
        while True:
            result = await service.list_webhooks(db, PageRequest(page, 100))
            rows += result.items
            if page >= result.total_pages:
                break
            page += 1
    ctx.emit(
        rows,
        table(
            [
                (
                    r["id"],
                    "yes" if r["enabled"] else "no",
                    r["url"],
                    ",".join(r["events"]),
                    r["description"],
                    r["disabled_reason"],
                )
                for r in rows
            ],
            ("ID", "ENABLED", "URL", "EVENTS", "DESCRIPTION", "DISABLED_REASON"),
        ),
    )
    return 0


async def run_remove(ctx: CliContext, args: argparse.Namespace) -> int:
    async with ctx.control() as control, ctx.tenant_files() as databases:
        tenant, db, row = await _find(control, databases, args.webhook_id)
        await service.delete_webhook(db, args.webhook_id, by=cli_who(), now=utc_now())
    ctx.emit(
        {**row, "tenant": tenant["slug"], "removed": True},
        f"removed webhook {row['id']} ({row['url']}) from tenant {tenant['slug']}",
    )
    return 0


async def run_test(ctx: CliContext, args: argparse.Namespace) -> int:
    async with ctx.control() as control, ctx.tenant_files() as databases:
        tenant, db, row = await _find(control, databases, args.webhook_id)
        delivery = await service.send_test(
            db, args.webhook_id, tenant_slug=tenant["slug"], now=utc_now()
        )
    ctx.emit(
        delivery,
        [
            delivery["id"],
            f"queued a ping to {row['url']}; the running server sends it"
            f" (see GET /api/v1/webhooks/{row['id']}/deliveries)",
        ],
    )
    return 0


async def _set_enabled(ctx: CliContext, webhook_id: str, *, enabled: bool) -> int:
    async with ctx.control() as control, ctx.tenant_files() as databases:
        tenant, db, _ = await _find(control, databases, webhook_id)
        row = await service.update_webhook(
            db,
            service.target_policy(ctx.settings),
            webhook_id,
            {"enabled": enabled},
            by=cli_who(),
            now=utc_now(),
        )
    state = "enabled" if enabled else "disabled"
    ctx.emit(
        {**row, "tenant": tenant["slug"]},
        f"{state} webhook {row['id']} ({row['url']}) of tenant {tenant['slug']}",
    )
    return 0


async def run_enable(ctx: CliContext, args: argparse.Namespace) -> int:
    return await _set_enabled(ctx, args.webhook_id, enabled=True)


async def run_disable(ctx: CliContext, args: argparse.Namespace) -> int:
    return await _set_enabled(ctx, args.webhook_id, enabled=False)


async def run_rotate(ctx: CliContext, args: argparse.Namespace) -> int:
    box = _secret_box(ctx)
    async with ctx.control() as control, ctx.tenant_files() as databases:
        tenant, db, _ = await _find(control, databases, args.webhook_id)
        row, secret = await service.rotate_secret(
            db, box, args.webhook_id, secret=None, by=cli_who(), now=utc_now()
        )
    ctx.emit(
        {**row, "tenant": tenant["slug"], "secret": secret},
        [
            f"rotated the secret of webhook {row['id']} ({row['url']})",
            f"secret: {secret}",
            "This is the only time the secret is shown; store it now. Until"
            f" {row['previous_secret_expires_at']} the old secret signs every delivery too.",
        ],
    )
    return 0


def _last_attempt(delivery: Row) -> tuple[str | None, str | None, str | None]:
    """(time, HTTP status or error, duration) of a delivery's latest attempt."""
    if not delivery["attempts"]:
        return None, None, None
    last = delivery["attempts"][-1]
    outcome = str(last["http_status"]) if last["http_status"] is not None else last["error"]
    duration = None if last["duration_ms"] is None else f"{last['duration_ms']:.0f} ms"
    return last["at"], outcome, duration


async def run_deliveries(ctx: CliContext, args: argparse.Namespace) -> int:
    rows: list[Row] = []
    async with ctx.control() as control, ctx.tenant_files() as databases:
        _, db, _ = await _find(control, databases, args.webhook_id)
        page = 1
        while len(rows) < args.limit:
            result = await service.list_deliveries(
                db, args.webhook_id, status=args.status, page=PageRequest(page, _PAGE)
            )
            rows += result.items
            if page >= result.total_pages:
                break
            page += 1
    rows = rows[: args.limit]
    ctx.emit(
        rows,
        table(
            [
                (d["id"], d["event_type"], d["status"], d["attempt_count"], *_last_attempt(d))
                for d in rows
            ],
            ("DELIVERY", "EVENT", "STATUS", "ATTEMPTS", "LAST_ATTEMPT", "RESULT", "DURATION"),
        )
        if rows
        else "no deliveries" + (f" with status {args.status}" if args.status else ""),
    )
    return 0


async def run_redeliver(ctx: CliContext, args: argparse.Namespace) -> int:
    async with ctx.control() as control, ctx.tenant_files() as databases:
        tenant, db = await _find_delivery(control, databases, args.delivery_id)
        delivery = await service.redeliver(db, args.delivery_id, by=cli_who(), now=utc_now())
    ctx.emit(
        {**delivery, "tenant": tenant["slug"]},
        f"queued delivery {delivery['id']} ({delivery['event_type']}) again; the running"
        " server sends it (same delivery id)",
    )
    return 0
