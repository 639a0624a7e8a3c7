"""The panel's forms without JavaScript: plain POST, 303, GET (SPEC §10). A key made here is
the same as one made by the API; the Overview counts what the API was given."""

from __future__ import annotations

import re

import aiohttp

from reliatic_appliance.admin.render import CSP
from tests.admin.conftest import ADMIN, PASSWORD, Panel
from tests.admin.test_pages import make_asset

SECRET_FIELD = re.compile(r'class="secret-value" readonly[^>]*>([^<]+)</textarea>')


async def test_a_key_made_in_the_panel_is_shown_once_works_and_can_be_revoked(
    panel: Panel,
) -> None:
    response = await panel.form(
        "/admin/settings/api-keys",
        [("name", "SAP PM sync"), ("level", "read_only"), ("scopes", "assets:read")],
    )
    assert response.status == 303
    shown_at = response.headers["Location"]
    assert shown_at.startswith("/admin/settings/api-keys/created?once=")
    page = await panel.client.get(shown_at)
    assert page.headers["Cache-Control"] == "no-store"
    match = SECRET_FIELD.search(await page.text())
    assert match, "the key is not on the page"
    key = match[1]
    assert key.startswith("rl_live_")
    # Once: the same address shows it no more.
    again = await (await panel.client.get(shown_at)).text()
    assert key not in again and "already been shown" in again

    # The same thing as a key made by the API: it reads assets, and only that.
    assert (await panel.api.get("/api/v1/assets", key=key)).status == 200
    assert (await panel.api.get("/api/v1/actions", key=key)).status == 403
    listed = await (await panel.client.get("/admin/settings/api-keys")).text()
    assert key[:12] in listed and key not in listed and "SAP PM sync" in listed

    key_id = next(
        k["id"]
        for k in (await (await panel.api.get("/api/v1/api-keys")).json())["data"]
        if k["name"] == "SAP PM sync"
    )
    confirm = await panel.client.get(f"/admin/settings/api-keys/{key_id}/revoke")
    assert confirm.status == 200 and "Revoke the key" in await confirm.text()
    response = await panel.form(f"/admin/settings/api-keys/{key_id}/revoke", {})
    assert response.status == 303
    assert response.headers["Location"] == "/admin/settings/api-keys?done=revoked"
    refused = await panel.api.get("/api/v1/assets", key=key)
    assert refused.status == 401
    assert (await refused.json())["error"] == "invalid_api_key"


async def test_a_bad_key_form_is_shown_again_with_the_reason(panel: Panel) -> None:
    response = await panel.form(
        "/admin/settings/api-keys",
        {"name": "Old", "level": "read_only", "expires": "2001-01-01"},
    )
    assert response.status == 400
    assert response.headers["Content-Security-Policy"] == CSP
    text = await response.text()
    assert "must be in the future" in text and 'value="Old"' in text


async def test_a_webhook_made_in_the_panel_shows_its_secret_once(panel: Panel) -> None:
    response = await panel.form(
        "/admin/settings/webhooks",
        [
            ("url", "https://10.20.30.40/hooks/reliatic"),
            ("events", "asset.updated"),
            ("events", "action.status_changed"),
        ],
    )
    assert response.status == 303, await response.text()
    shown_at = response.headers["Location"]
    match = SECRET_FIELD.search(await (await panel.client.get(shown_at)).text())
    assert match and match[1].startswith("whsec_")
    assert match[1] not in await (await panel.client.get(shown_at)).text()
    hooks = (await (await panel.api.get("/api/v1/webhooks")).json())["data"]
    assert [h["events"] for h in hooks] == [["asset.updated", "action.status_changed"]]
    hook_id = hooks[0]["id"]

    response = await panel.form(f"/admin/settings/webhooks/{hook_id}/enabled", {"enabled": "false"})
    assert response.status == 303
    hook = (await (await panel.api.get(f"/api/v1/webhooks/{hook_id}")).json())["data"]
    assert hook["enabled"] is False
    await panel.form(f"/admin/settings/webhooks/{hook_id}/enabled", {"enabled": "true"})

    response = await panel.form(f"/admin/settings/webhooks/{hook_id}/test", {})
    assert response.headers["Location"] == f"/admin/settings/webhooks/{hook_id}?done=ping"
    log = await (await panel.client.get(f"/admin/settings/webhooks/{hook_id}")).text()
    assert "<code>ping</code>" in log
    deliveries = (await (await panel.api.get(f"/api/v1/webhooks/{hook_id}/deliveries")).json())[
        "data"
    ]
    delivery_id = deliveries[0]["id"]
    response = await panel.form(
        f"/admin/settings/webhooks/{hook_id}/deliveries/{delivery_id}/redeliver", {}
    )
    assert response.status == 303
    assert response.headers["Location"] == f"/admin/settings/webhooks/{hook_id}?done=redeliver"


async def test_a_webhook_form_with_a_bad_url_says_why(panel: Panel) -> None:
    response = await panel.form(
        "/admin/settings/webhooks", {"url": "ftp://x", "events": "asset.updated"}
    )
    assert response.status == 400
    assert "url" in await response.text()


async def assess(panel: Panel, asset_id: str, p: int, c: int, day: str) -> None:
    body = {
        "asset_id": asset_id,
        "probability_of_failure": p,
        "consequence_of_failure": c,
        "assessment_date": day,
    }
    response = await panel.api.post("/api/v1/risk-assessments", json=body)
    assert response.status == 201, await response.text()


def cell_counts(text: str) -> dict[tuple[int, int], int]:
    cells = re.findall(r'data-p="(\d)" data-c="(\d)" data-count="(\d+)"', text)
    return {(int(p), int(c)): int(n) for p, c, n in cells}


async def test_the_heat_map_counts_each_assets_newest_assessment(panel: Panel) -> None:
    a = await make_asset(panel, tag_number="A-1")
    b = await make_asset(panel, tag_number="B-2")
    c = await make_asset(panel, tag_number="C-3")
    await assess(panel, a["id"], 4, 4, "2025-01-10")
    await assess(panel, a["id"], 2, 3, "2026-01-10")  # newer: A moves to P2 C3
    await assess(panel, b["id"], 2, 3, "2025-06-01")
    await assess(panel, c["id"], 5, 5, "2025-06-01")
    text = await (await panel.client.get("/admin/")).text()
    counts = cell_counts(text)
    assert len(counts) == 25
    assert {k: v for k, v in counts.items() if v} == {(2, 3): 2, (5, 5): 1}
    # Rows P 5..1, columns C 1..5, coloured by the SPEC §6 ranking.
    order = re.findall(r'class="risk risk-(\w+)" data-p="(\d)" data-c="(\d)"', text)
    assert [(p, c) for _, p, c in order[:6]] == [
        ("5", "1"),
        ("5", "2"),
        ("5", "3"),
        ("5", "4"),
        ("5", "5"),
        ("4", "1"),
    ]
    assert order[0][0] == "medium" and order[4][0] == "high" and order[-1][0] == "medium_high"
    assert 'href="/admin/assets?probability=2&amp;consequence=3"' in text

    listed = await (await panel.client.get("/admin/assets?probability=2&consequence=3")).text()
    assert "A-1" in listed and "B-2" in listed and "C-3" not in listed
    assert "2 assets" in listed
    none = await (await panel.client.get("/admin/assets?probability=4&consequence=4")).text()
    assert "A-1" not in none and "0 assets" in none


async def test_the_asset_page_plots_its_completed_readings(panel: Panel) -> None:
    asset = await make_asset(panel)
    for day, mm, status in (
        ("2015-01-01", 19.0, "completed"),
        ("2020-01-01", 17.5, "completed"),
        ("2024-01-01", 16.0, "completed"),
        ("2025-01-01", 15.0, "draft"),  # not completed: not plotted
    ):
        body = {
            "asset_id": asset["id"],
            "inspection_type": "ut_scanning",
            "inspection_date": day,
            "coverage_percent": 60,
            "inspector_name": "J. Okafor",
            "status": status,
        }
        if mm is not None:
            body["min_measured_thickness_mm"] = mm
        response = await panel.api.post("/api/v1/inspections", json=body)
        assert response.status == 201, await response.text()
    fresh = (await (await panel.api.get(f"/api/v1/assets/{asset['id']}")).json())["data"]
    text = await (await panel.client.get(f"/admin/assets/{asset['id']}")).text()
    assert text.count('<circle class="reading"') == 3
    assert '<line class="required"' in text and '<line class="rate"' in text
    assert f"{fresh['remaining_life_years']:,.1f} years" in text
    assert "2024-01-01: 16 mm" in text


async def test_an_invitation_link_is_shown_once_and_registers_the_invitee(panel: Panel) -> None:
    response = await panel.form(
        "/admin/users", {"email": "new.hire@plant.example", "role": "engineer"}
    )
    assert response.status == 303
    shown_at = response.headers["Location"]
    match = SECRET_FIELD.search(await (await panel.client.get(shown_at)).text())
    assert match
    link = match[1]
    assert link.startswith(panel.url("/admin/register?token="))
    assert link not in await (await panel.client.get(shown_at)).text()
    token = link.split("token=", 1)[1]
    page = await panel.client.get(f"/admin/register?token={token}")
    assert "Create account" in await page.text()

    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as invitee:
        response = await invitee.post(
            panel.url("/auth/register"),
            data={"token": token, "email": "new.hire@plant.example", "password": PASSWORD},
            allow_redirects=False,
        )
        assert response.status == 303, await response.text()
        overview = await invitee.get(panel.url("/admin/"))
        assert overview.status == 200 and "new.hire@plant.example" in await overview.text()

        listed = await (await panel.client.get("/admin/users")).text()
        user_id = re.search(r'data-user-id="([^"]+)"[^>]*>\s*<td>new.hire', listed)
        assert user_id, "the new user is not listed"
        response = await panel.form(f"/admin/users/{user_id[1]}/disable", {})
        assert response.headers["Location"] == "/admin/users?done=disabled"
        # Disabled: the session ends at once (SPEC §4).
        gone = await invitee.get(panel.url("/admin/"), allow_redirects=False)
        assert gone.status == 303 and gone.headers["Location"] == "/admin/login"


async def test_a_stale_form_or_an_unknown_address_answers_with_a_page(panel: Panel) -> None:
    """The front door refuses these before any panel view runs; the person gets a page."""
    stale = await panel.client.post(
        "/admin/settings/api-keys",
        data={"name": "x", "level": "read_only", "csrf_token": "from-an-old-session"},
        allow_redirects=False,
    )
    assert stale.status == 403
    assert stale.content_type == "text/html"
    assert stale.headers["Content-Security-Policy"] == CSP
    assert "This form has expired" in await stale.text()
    missing = await panel.client.get("/admin/no/such/page")
    assert missing.status == 404 and missing.content_type == "text/html"
    # The API keeps its JSON.
    api = await panel.client.get("/api/v1/no-such-thing")
    assert api.content_type == "application/json"


async def test_the_login_page_tells_wrong_password_from_throttled(panel: Panel) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as stranger:
        seen = []
        for _ in range(11):
            response = await stranger.post(
                panel.url("/auth/login"),
                data={"email": ADMIN, "password": "not the password"},
                allow_redirects=False,
            )
            seen.append(response.headers["Location"])
        assert seen[0] == "/admin/login?error=credentials"
        assert seen[-1] == "/admin/login?error=throttled"
        for code, words in (("credentials", "is not right"), ("throttled", "Too many failed")):
            page = await stranger.get(panel.url(f"/admin/login?error={code}"))
            assert words in await page.text()
