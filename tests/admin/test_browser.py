"""The panel in a real browser (SPEC §10, issue 13): Debian's chromium driven by Playwright
against the real server on a loopback port, with data made through the API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.admin.browser import ARGS, CHROMIUM, require_browser
from tests.admin.conftest import ADMIN, ENGINEER, PASSWORD, Panel
from tests.admin.test_flows import assess
from tests.admin.test_pages import make_asset, panel_pages


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    require_browser()
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            await chromium.close()


async def open_page(browser: Any, client: TestClient, *, width: int = 1280) -> Any:
    context = await browser.new_context(
        base_url=str(client.make_url("")).rstrip("/"), viewport={"width": width, "height": 900}
    )
    page = await context.new_page()
    problems: list[str] = []
    # A CSP violation or a failed script is a console error: none is allowed.
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.problems = problems  # type: ignore[attr-defined]  # kept with the page for the test
    return page


async def sign_in(page: Any, email: str) -> None:
    await page.goto("/admin/login")
    await page.fill("#email", email)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/admin/")


async def test_keyboard_reaches_the_login_fields_and_the_button(panel: Panel, browser: Any) -> None:
    page = await open_page(browser, panel.client)
    await page.goto("/admin/login")
    focused = "document.activeElement.id || document.activeElement.tagName.toLowerCase()"
    # The email field has the focus on arrival; Tab goes on to the password, then the button.
    assert await page.evaluate(focused) == "email"
    reached = []
    for _ in range(2):
        await page.keyboard.press("Tab")
        reached.append(await page.evaluate(focused))
    assert reached == ["password", "button"]
    # From the top of the page too: the skip link, the brand, then the email field.
    await page.focus("a.skip")
    reached = []
    for _ in range(4):
        await page.keyboard.press("Tab")
        reached.append(await page.evaluate(focused))
    assert reached[reached.index("email") :][:3] == ["email", "password", "button"]
    # Signing in from the keyboard alone: type, Tab, type, Enter.
    await page.focus("#email")
    await page.keyboard.type(ADMIN)
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/admin/")
    assert page.problems == []


async def test_a_key_made_in_the_browser_works_until_it_is_revoked_there(
    panel: Panel, browser: Any
) -> None:
    page = await open_page(browser, panel.client)
    await sign_in(page, ADMIN)
    await page.click("nav >> text=API keys")
    await page.wait_for_url("**/admin/settings/api-keys")
    await page.fill("#key-name", "Browser-made key")
    await page.check("input[name=level][value=read_only]")
    await page.click("text=Create key")
    await page.wait_for_url("**/admin/settings/api-keys/created?once=*")
    key = await page.input_value("#new-key")
    assert key.startswith("rl_live_")
    copy = page.locator("button[data-copy=new-key]")
    assert await copy.is_visible()  # panel.js revealed it
    # Read once: a reload shows it no more.
    await page.reload()
    assert await page.locator("#new-key").count() == 0

    assert (await panel.api.get("/api/v1/assets", key=key)).status == 200

    await page.goto("/admin/settings/api-keys")
    row = page.locator("tr", has_text="Browser-made key")
    await row.locator("text=Revoke…").click()
    await page.click("text=Revoke the key")
    await page.wait_for_url("**/admin/settings/api-keys?done=revoked")
    assert "Revoked" in await page.locator("tr", has_text="Browser-made key").inner_text()
    refused = await panel.api.get("/api/v1/assets", key=key)
    assert refused.status == 401
    assert (await refused.json())["error"] == "invalid_api_key"
    assert page.problems == []


async def test_the_heat_map_in_the_browser_matches_the_data(panel: Panel, browser: Any) -> None:
    expected = {(5, 5): 2, (3, 2): 1, (1, 4): 3}
    n = 0
    for (p, c), count in expected.items():
        for _ in range(count):
            n += 1
            asset = await make_asset(panel, tag_number=f"T-{n:03d}")
            await assess(panel, asset["id"], p, c, "2026-01-15")
    page = await open_page(browser, panel.client)
    await sign_in(page, ADMIN)
    for p in range(1, 6):
        for c in range(1, 6):
            cell = page.locator(f'#risk-matrix td[data-p="{p}"][data-c="{c}"]')
            assert (await cell.inner_text()).strip() == str(expected.get((p, c), 0)), (p, c)
    await page.click('#risk-matrix td[data-p="1"][data-c="4"] a')
    await page.wait_for_url("**/admin/assets?probability=1&consequence=4")
    assert await page.locator("table.list tbody tr").count() == 3
    assert page.problems == []


async def test_an_engineer_is_refused_the_settings(panel: Panel, browser: Any) -> None:
    page = await open_page(browser, panel.client)
    await sign_in(page, ENGINEER)
    assert await page.locator("nav >> text=API keys").count() == 0
    for path in (
        "/admin/settings/api-keys",
        "/admin/settings/webhooks",
        "/admin/users",
        "/admin/audit",
    ):
        response = await page.goto(path)
        assert response.status == 403, path
        assert "for tenant administrators" in await page.content()


async def test_a_webhook_made_in_the_browser_shows_its_secret_once(
    panel: Panel, browser: Any
) -> None:
    page = await open_page(browser, panel.client)
    await sign_in(page, ADMIN)
    await page.goto("/admin/settings/webhooks")
    await page.fill("#hook-url", "https://10.20.30.40/hooks/reliatic")
    await page.check("input[name=events][value='action.status_changed']")
    await page.click("text=Add subscription")
    await page.wait_for_url("**/admin/settings/webhooks/created?once=*")
    secret = await page.input_value("#new-secret")
    assert secret.startswith("whsec_")
    await page.reload()
    assert secret not in await page.content()
    hooks = (await (await panel.api.get("/api/v1/webhooks")).json())["data"]
    assert [h["events"] for h in hooks] == [["action.status_changed"]]
    assert page.problems == []


async def test_every_page_fits_a_390_pixel_window(panel: Panel, browser: Any) -> None:
    paths = await panel_pages(panel)
    page = await open_page(browser, panel.client, width=390)
    await sign_in(page, ADMIN)
    for path in paths:
        response = await page.goto(path)
        assert response.status == 200, path
        # Tables scroll inside their own box; the page itself never scrolls sideways.
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, (path, width)
    assert page.problems == []


async def test_an_import_from_the_browser_reports_then_imports(panel: Panel, browser: Any) -> None:
    page = await open_page(browser, panel.client)
    await sign_in(page, ADMIN)
    await page.goto("/admin/assets")
    await page.click("text=Import from CSV")
    await page.wait_for_url("**/admin/assets/import")
    header = "tag_number;name;asset_type;nominal_thickness_mm\n"
    bad = header + "V-1;Drum;vessel;20,5\nV-2;;vessel;abc\n"
    await page.set_input_files(
        "#csv-file", {"name": "bad.csv", "mimeType": "text/csv", "buffer": bad.encode()}
    )
    await page.click("button:has-text('Import')")
    await page.wait_for_selector("#import-report")
    report = page.locator("#import-report tbody tr")
    assert await report.count() == 2
    assert "Nothing was imported" in await page.locator("#import-report h2").inner_text()
    assert (await (await panel.api.get("/api/v1/assets")).json())["meta"]["total"] == 0
    # The report answers the POST with 400, as every refused panel form does; Chromium
    # notes that status on the console, and nothing else may be there.
    assert [p for p in page.problems if "status of 400" not in p] == []
    page.problems.clear()

    # From the keyboard: the file field and the button are reachable with Tab.
    await page.focus("#csv-file")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent") == "Import"
    good = header + "V-1;Drum;vessel;20,5\nV-2;Line;piping;\n"
    await page.set_input_files(
        "#csv-file", {"name": "good.csv", "mimeType": "text/csv", "buffer": good.encode()}
    )
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/admin/assets/import?result=*")
    assert "Imported 2 assets" in await page.locator("#import-result").inner_text()
    await page.click("#import-result >> text=See them in the assets list")
    await page.wait_for_url("**/admin/assets")
    assert (await page.locator("#asset-count").inner_text()).strip() == "2 assets"
    assert page.problems == []


async def test_an_upload_over_the_limit_shows_a_page_in_the_browser(
    panel: Panel, browser: Any
) -> None:
    page = await open_page(browser, panel.client)
    await sign_in(page, ADMIN)
    await page.goto("/admin/assets/import")
    big = b"tag_number,name,asset_type\n" + b"V-0000001,A drum,vessel\n" * 60_000
    await page.set_input_files(
        "#csv-file", {"name": "big.csv", "mimeType": "text/csv", "buffer": big}
    )
    await page.click("button:has-text('Import')")
    await page.wait_for_selector("text=The file is too large")
    assert "Nothing was imported" in await page.content()
    assert (await (await panel.api.get("/api/v1/assets")).json())["meta"]["total"] == 0
