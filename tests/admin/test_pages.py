"""Every panel page over a real server (SPEC §10): status, headers, weight with its CSS and
JS, the CSRF token on every form, and what an engineer may not see."""

from __future__ import annotations

import re
from typing import Any

import pytest

from reliatic_appliance.admin.render import CSP
from tests.admin.conftest import Panel

WEIGHT_LIMIT = 100 * 1024
ASSET = {
    "tag_number": "V-101",
    "name": "Crude Column Overhead Drum",
    "asset_type": "vessel",
    "install_date": "2010-01-01",
    "nominal_thickness_mm": 20.0,
    "required_thickness_mm": 12.0,
}
LINKED = re.compile(r'(?:href|src)="(/admin/static/[^"]+)"')
ADMIN_ONLY = [
    "/admin/settings/api-keys",
    "/admin/settings/webhooks",
    "/admin/users",
    "/admin/audit",
    "/admin/assets/import",
]


async def make_asset(panel: Panel, **changes: Any) -> dict[str, Any]:
    response = await panel.api.post("/api/v1/assets", json={**ASSET, **changes})
    assert response.status == 201, await response.text()
    return (await response.json())["data"]


async def page_weight(panel: Panel, path: str) -> tuple[int, str]:
    """The page's bytes plus every stylesheet and script it links."""
    response = await panel.client.get(path)
    assert response.status == 200, (path, response.status)
    body = await response.read()
    total = len(body)
    for linked in sorted(set(LINKED.findall(body.decode()))):
        asset = await panel.client.get(linked)
        assert asset.status == 200, linked
        total += len(await asset.read())
    return total, body.decode()


async def panel_pages(panel: Panel) -> list[str]:
    asset = await make_asset(panel)
    for day, mm in (("2016-06-01", 18.5), ("2021-06-01", 16.9)):
        inspection = {
            "asset_id": asset["id"],
            "inspection_type": "ut_scanning",
            "inspection_date": day,
            "coverage_percent": 60,
            "inspector_name": "J. Okafor",
            "min_measured_thickness_mm": mm,
        }
        response = await panel.api.post("/api/v1/inspections", json=inspection)
        assert response.status == 201, await response.text()
    hook = await panel.api.post(
        "/api/v1/webhooks", json={"url": "https://10.20.30.40/hooks", "events": ["asset.updated"]}
    )
    hook_id = (await hook.json())["data"]["id"]
    return [
        "/admin/",
        "/admin/assets",
        "/admin/assets?probability=3&consequence=4",
        f"/admin/assets/{asset['id']}",
        "/admin/assets/import",
        "/admin/settings/api-keys",
        f"/admin/settings/api-keys/{panel.api.key_id}/revoke",
        "/admin/settings/webhooks",
        f"/admin/settings/webhooks/{hook_id}",
        "/admin/users",
        "/admin/audit",
    ]


async def test_every_page_is_strict_light_and_carries_the_csrf_token(panel: Panel) -> None:
    for path in await panel_pages(panel):
        response = await panel.client.get(path)
        assert response.status == 200, path
        assert response.headers["Content-Security-Policy"] == CSP, path
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert response.headers["Cache-Control"] == "no-store"
        weight, text = await page_weight(panel, path)
        assert weight < WEIGHT_LIMIT, (path, weight)
        assert f'<meta name="csrf-token" content="{panel.csrf}">' in text, path
        # No inline script or style: the CSP would block it, so it must not be there.
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), path
        assert " style=" not in text and "<style" not in text, path
        assert "http://" not in text.replace("http://www.w3.org", ""), path  # no CDN
        for form in re.findall(r"<form[^>]*method=\"post\".*?</form>", text, re.S):
            assert f'name="csrf_token" value="{panel.csrf}"' in form, (path, form[:80])


async def test_an_engineer_reads_the_plant_but_not_the_settings(panel: Panel) -> None:
    asset = await make_asset(panel)
    for path in ("/admin/", "/admin/assets", f"/admin/assets/{asset['id']}"):
        response = await panel.engineer.get(panel.url(path))
        assert response.status == 200, path
    for path in ADMIN_ONLY:
        response = await panel.engineer.get(panel.url(path), allow_redirects=False)
        assert response.status == 403, path
        assert response.content_type == "text/html"
        assert response.headers["Content-Security-Policy"] == CSP
        assert "for tenant administrators" in await response.text()
    overview = await (await panel.engineer.get(panel.url("/admin/"))).text()
    assert "/admin/settings/api-keys" not in overview  # not offered in the nav either


async def test_an_engineer_cannot_post_an_admin_form(panel: Panel) -> None:
    response = await panel.engineer.post(
        panel.url("/admin/settings/api-keys"),
        data={"name": "sneaky", "level": "read_write", "csrf_token": panel.engineer_csrf},
        allow_redirects=False,
    )
    assert response.status == 403
    keys = await (await panel.api.get("/api/v1/api-keys")).json()
    assert all(k["name"] != "sneaky" for k in keys["data"])


@pytest.mark.parametrize("token", [None, "", "not-the-token"], ids=["missing", "empty", "wrong"])
async def test_every_form_needs_the_csrf_token(panel: Panel, token: str | None) -> None:
    hook = await panel.api.post(
        "/api/v1/webhooks", json={"url": "https://10.20.30.40/hooks", "events": ["asset.updated"]}
    )
    hook_id = (await hook.json())["data"]["id"]
    forms = [
        ("/admin/settings/api-keys", {"name": "k", "level": "read_only"}),
        (f"/admin/settings/api-keys/{panel.api.key_id}/revoke", {}),
        ("/admin/settings/webhooks", {"url": "https://10.1.1.1/h", "events": "asset.updated"}),
        (f"/admin/settings/webhooks/{hook_id}/enabled", {"enabled": "false"}),
        (f"/admin/settings/webhooks/{hook_id}/test", {}),
        ("/admin/users", {"role": "engineer"}),
    ]
    for path, data in forms:
        fields = dict(data)
        if token is not None:
            fields["csrf_token"] = token
        response = await panel.client.post(path, data=fields, allow_redirects=False)
        assert response.status == 403, path
    # Nothing happened: the key works, no key was made, the webhook is still enabled.
    assert (await panel.api.get("/api/v1/api-keys")).status == 200
    keys = (await (await panel.api.get("/api/v1/api-keys")).json())["data"]
    assert [k["name"] for k in keys] == ["test key"] or len(keys) == 1
    hooks = (await (await panel.api.get("/api/v1/webhooks")).json())["data"]
    assert len(hooks) == 1 and hooks[0]["enabled"] is True


async def test_unknown_things_are_404_pages(panel: Panel) -> None:
    for path in ("/admin/assets/ast_nope", "/admin/settings/webhooks/whk_nope"):
        response = await panel.client.get(path)
        assert response.status == 404, path
        assert response.content_type == "text/html"


async def test_a_full_overview_stays_under_the_weight_limit(panel: Panel) -> None:
    """More overdue actions and due inspections than the Overview lists, with long names."""
    for n in range(30):
        asset = await make_asset(
            panel,
            tag_number=f"P-{n:04d}-HC-LONG-TAG",
            name="12 inch hydrocarbon transfer line from crude unit to storage " + "x" * 40,
            install_date="2000-01-01",
        )
        inspection = {
            "asset_id": asset["id"],
            "inspection_type": "ut_scanning",
            "inspection_date": "2012-01-01",
            "inspector_name": "J. Okafor",
            "coverage_percent": 60,
            "min_measured_thickness_mm": 16.0,
        }
        assert (await panel.api.post("/api/v1/inspections", json=inspection)).status == 201
        action = {
            "title": "Replace the corroded nozzle and re-inspect the weld " + "y" * 60,
            "priority": "high",
            "asset_id": asset["id"],
            "due_date": "2026-01-01",
        }
        response = await panel.api.post("/api/v1/actions", json=action)
        assert response.status == 201, await response.text()
    weight, text = await page_weight(panel, "/admin/")
    assert "Showing the 25 oldest of 30" in text
    assert "Showing the 25 soonest of 30" in text
    assert weight < WEIGHT_LIMIT, weight
