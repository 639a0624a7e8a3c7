"""Tenants: a row in control.db and a database file of their own (SPEC §1, §8)."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

from reliatic_appliance.errors import Conflict, NotFound, ValidationError
from reliatic_appliance.ids import new_id
from reliatic_appliance.ports import ControlDb, ControlTx
from reliatic_appliance.services.audit import Who, record_control
from reliatic_appliance.timefmt import format_ts

Row = dict[str, Any]
SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


def public_view(row: Row) -> Row:
    return {
        "id": row["id"],
        "slug": row["slug"],
        "name": row["name"],
        "rate_limit_per_minute": row["rate_limit_per_minute"],
        "disabled_at": row["disabled_at"],
        "created_at": row["created_at"],
    }


async def create_tenant(
    control: ControlDb,
    data_dir: Path,
    *,
    slug: str,
    name: str | None = None,
    rate_limit_per_minute: int | None = None,
    by: Who,
    now: datetime,
) -> Row:
    if not SLUG_PATTERN.match(slug):
        raise ValidationError.field("slug", "must match ^[a-z0-9][a-z0-9-]{1,62}$")
    if rate_limit_per_minute is not None and not 1 <= rate_limit_per_minute <= 1_000_000:
        raise ValidationError.field("rate_limit_per_minute", "must be between 1 and 1000000")
    tenant_id = new_id("ten")
    tenant: Row = {
        "id": tenant_id,
        "slug": slug,
        "name": name or slug,
        "rate_limit_per_minute": rate_limit_per_minute,
        "created_at": format_ts(now),
    }
    # Its storage first (SQLite: the file): a tenant row must never point at nothing.
    # `data_dir` is not needed for it: the control database knows where (or whether) a
    # tenant's own storage lives; the parameter stays for the callers.
    await control.provision_tenant(tenant_id)

    def write(tx: ControlTx) -> Row:
        if tx.control.tenant_by_slug(slug) is not None:
            raise Conflict(
                f"Tenant '{slug}' already exists.", [{"field": "slug", "message": "taken"}]
            )
        tx.control.insert_tenant(tenant)
        row = tx.control.tenant_by_id(tenant_id)
        assert row is not None
        shown = {
            "slug": slug,
            "name": tenant["name"],
            "rate_limit_per_minute": rate_limit_per_minute,
        }
        record_control(tx, tenant_id, by.act("tenant.created", "tenant", tenant_id, shown), now=now)
        return row

    try:
        row = await control.write(write)
    except BaseException:
        await control.discard_tenant(tenant_id)
        raise
    return public_view(row)


async def get_tenant(control: ControlDb, slug: str) -> Row:
    row = await control.read(lambda tx: tx.control.tenant_by_slug(slug))
    if row is None:
        raise NotFound(f"Tenant '{slug}' not found.")
    return row


async def list_tenants(control: ControlDb) -> list[Row]:
    return [public_view(r) for r in await control.read(lambda tx: tx.control.list_tenants())]


async def disable_tenant(control: ControlDb, slug: str, *, by: Who, now: datetime) -> Row:
    """Its keys are refused from the next request on, by every process (SPEC §2)."""
    return await _set_disabled(control, slug, disabled=True, by=by, now=now)


async def enable_tenant(control: ControlDb, slug: str, *, by: Who, now: datetime) -> Row:
    """Undo `disable_tenant`: its keys that are not revoked or expired work again."""
    return await _set_disabled(control, slug, disabled=False, by=by, now=now)


async def _set_disabled(
    control: ControlDb, slug: str, *, disabled: bool, by: Who, now: datetime
) -> Row:
    def write(tx: ControlTx) -> Row:
        row = tx.control.tenant_by_slug(slug)
        if row is None:
            raise NotFound(f"Tenant '{slug}' not found.")
        change = tx.control.disable_tenant if disabled else tx.control.enable_tenant
        change(row["id"], format_ts(now))
        if (row["disabled_at"] is None) == disabled:  # a change, not a repeat
            action = "tenant.disabled" if disabled else "tenant.enabled"
            record_control(tx, row["id"], by.act(action, "tenant", row["id"]), now=now)
        updated = tx.control.tenant_by_id(row["id"])
        assert updated is not None
        return updated

    return public_view(await control.write(write))


# Only tenants `reliatic selftest` made can be removed: nothing else in the product deletes
# a tenant (a plant's inspection history is not something a typo may destroy).
THROWAWAY_SLUG = re.compile(r"^selftest-[0-9a-f]{8}$")


async def remove_throwaway_tenant(
    control: ControlDb, data_dir: Path, slug: str, *, now: datetime
) -> None:
    """Remove a selftest tenant: its keys, audit chain and row, then its data (SQLite: its
    database file; PostgreSQL: its rows).

    Refused for any other slug. Disabled first, in its own transaction, so a running server
    stops claiming its deliveries and refuses its keys before the rows and the file go; the
    rows go in one transaction; the file last, so a failure in between leaves a tenant
    that is disabled and complete rather than a row without a file.
    """
    if not THROWAWAY_SLUG.match(slug):
        raise ValidationError.field("slug", "only a selftest tenant can be removed")
    tenant = await get_tenant(control, slug)
    at = format_ts(now)
    await control.write(lambda tx: tx.control.disable_tenant(tenant["id"], at))
    await control.write(lambda tx: tx.control.delete_tenant(tenant["id"]))
    await control.discard_tenant(tenant["id"])
