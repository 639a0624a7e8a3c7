"""`reliatic demo`: the `demo` tenant with a realistic plant, a key and a curl line."""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import date

from reliatic_appliance.cli.context import CliContext
from reliatic_appliance.demo.plant import generate_plant
from reliatic_appliance.errors import NotFound
from reliatic_appliance.schemas.assets import AssetCreate
from reliatic_appliance.services import api_keys, assets, tenants
from reliatic_appliance.storage.layout import initialise
from reliatic_appliance.storage.tenancy import TenantDatabases

DEMO_SLUG = "demo"


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser(
        "demo",
        parents=[common],
        help="create the demo tenant with sample data; print a key and a curl line",
        description=(
            "Creates tenant 'demo' with a realistic plant (on first run only) and a new"
            " read-write key. Safe to run again: it then only prints a fresh key."
        ),
        epilog="example: reliatic --data-dir ./var demo && reliatic --data-dir ./var serve",
    )
    parser.set_defaults(run=run)


async def _load_plant(ctx: CliContext, tenant_id: str) -> int:
    plant = generate_plant(today=date.today())
    # Through the API's own model, so demo data can never be something the API refuses.
    rows = [
        AssetCreate.model_validate_json(json.dumps(asset)).model_dump(exclude_unset=False)
        for asset in plant.assets
    ]
    databases = TenantDatabases(ctx.data_dir, busy_timeout_ms=ctx.settings.storage.busy_timeout_ms)
    try:
        db = await databases.get(tenant_id)
        await asyncio.gather(*(assets.create_asset(db, row, actor="demo") for row in rows))
    finally:
        databases.close()
    return len(rows)


async def run(ctx: CliContext, args: argparse.Namespace) -> int:
    initialise(ctx.data_dir, ctx.settings.storage.busy_timeout_ms)
    async with ctx.control() as control:
        loaded = 0
        try:
            tenant = tenants.get_tenant(control, DEMO_SLUG)
        except NotFound:
            tenant = await tenants.create_tenant(
                control, ctx.data_dir, slug=DEMO_SLUG, name="Demo Refinery"
            )
            loaded = await _load_plant(ctx, tenant["id"])
        record, key = await api_keys.create_key(
            control,
            tenant_id=tenant["id"],
            name="demo",
            level="read_write",
            created_by="demo",
        )
    base = f"http://{ctx.settings.server.host}:{ctx.settings.server.port}"
    curl = f"curl -s -H 'Authorization: Bearer {key}' '{base}/api/v1/assets?per_page=5'"
    ctx.emit(
        {
            "tenant": DEMO_SLUG,
            "assets_created": loaded,
            "key_id": record["id"],
            "key": key,
            "curl": curl,
        },
        [
            f"tenant '{DEMO_SLUG}': "
            + (f"created with {loaded} assets" if loaded else "already there (data kept)"),
            f"read-write key (shown once): {key}",
            "try it once the server runs:",
            f"  {curl}",
        ],
    )
    return 0
