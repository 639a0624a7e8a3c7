"""The panel's route table, installed by the app factory."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from aiohttp import web

from reliatic_appliance.admin.render import STATIC, panel_response
from reliatic_appliance.admin.views import (
    api_keys,
    assets_csv,
    audit,
    plant,
    public,
    users,
    webhooks,
)


def install(app: web.Application) -> None:
    add = app.router.add_route
    add("GET", "/admin/login", public.login_page)
    add("GET", "/admin/register", public.register_page)
    add("GET", "/admin/", plant.overview_page)
    add("GET", "/admin/assets", plant.assets_page)
    # Before `{asset_id}`, which would take `import` for an asset's id.
    add("GET", assets_csv.BASE, assets_csv.import_page)
    add("POST", assets_csv.BASE, assets_csv.upload)
    add("GET", assets_csv.EXPORT, assets_csv.export_csv)
    add("GET", "/admin/assets/{asset_id}", plant.asset_page)
    keys = api_keys.BASE
    add("GET", keys, api_keys.list_keys)
    add("POST", keys, api_keys.create_key)
    add("GET", f"{keys}/created", api_keys.created_key)
    add("GET", keys + "/{key_id}/revoke", api_keys.confirm_revoke)
    add("POST", keys + "/{key_id}/revoke", api_keys.revoke_key)
    hooks = webhooks.BASE
    add("GET", hooks, webhooks.list_webhooks)
    add("POST", hooks, webhooks.create_webhook)
    add("GET", f"{hooks}/created", webhooks.created_webhook)
    add("GET", hooks + "/{webhook_id}", webhooks.webhook_page)
    add("POST", hooks + "/{webhook_id}/enabled", webhooks.set_enabled)
    add("POST", hooks + "/{webhook_id}/test", webhooks.send_test)
    add("POST", hooks + "/{webhook_id}/deliveries/{delivery_id}/redeliver", webhooks.redeliver)
    add("GET", users.BASE, users.list_users)
    add("POST", users.BASE, users.invite)
    add("GET", f"{users.BASE}/invited", users.invited)
    add("POST", users.BASE + "/{user_id}/disable", users.disable)
    add("GET", "/admin/audit", audit.audit_page)
    static = Path(str(resources.files("reliatic_appliance.admin") / "static"))
    app.router.add_static(STATIC, static, name="admin_static")
    app.on_response_prepare.append(panel_response)
