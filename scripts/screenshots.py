#!/usr/bin/env python3
"""Screenshots of every admin panel page over the demo plant, at 1280 px and 390 px wide.

Run by hand (`.venv/bin/python scripts/screenshots.py [OUT_DIR]`, default `screenshots/`,
which git ignores): a temporary data dir gets `reliatic demo`, an admin and an engineer
(`reliatic user create`), a webhook with a test ping and an invitation; `reliatic serve`
runs on a free port; Debian's chromium (tests/admin/browser.py) visits each page full-length.
Prints each page's weight (HTML + its CSS and JS) as it goes.
"""

# A script run by hand against its own loopback server and temporary data.
# ruff: noqa: S105, S310, S603

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.async_api import Page, async_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.admin.browser import ARGS, CHROMIUM  # noqa: E402

RELIATIC = str(Path(sys.executable).with_name("reliatic"))
PASSWORD = "correct horse battery staple"
WIDTHS = (1280, 390)


def cli(data: Path, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [RELIATIC, "--data-dir", str(data), *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bad_register(taken: str) -> bytes:
    """A register with the mistakes people make: a missing name, a type the API does not
    know, a unit in a number, a tag the plant has already (`taken`), a row cut short."""
    return (
        "tag_number;name;asset_type;unit;nominal_thickness_mm;install_date\n"
        "V-9001;Knock-out drum;vessel;CDU;22,5;2012-04-01\n"
        "V-9002;;vessel;CDU;20;2012-04-01\n"
        "P-9003;Flare header;pipe;CDU;9,5;2012-04-01\n"
        "E-9004;Overhead condenser;heat_exchanger;CDU;12 mm;2012-04-01\n"
        f"{taken};Second {taken};vessel;CDU;20;2012-04-01\n"
        "T-9005;Slop tank;tank\n"
    ).encode()


def api(base: str, key: str, path: str) -> dict:  # type: ignore[type-arg]
    request = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request) as response:
        return json.load(response)  # type: ignore[no-any-return]


async def sign_in(page: Page, email: str) -> None:
    await page.goto("/admin/login")
    await page.fill("#email", email)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/admin/")


async def shoot(base: str, key: str, out: Path) -> None:
    assets = api(base, key, "/api/v1/assets?per_page=100&sort=-corrosion_rate_mm_per_year")
    asset = next(a for a in assets["data"] if a["remaining_life_years"] is not None)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=ARGS, headless=True
        )
        for width in WIDTHS:
            context = await browser.new_context(
                base_url=base, viewport={"width": width, "height": 900}
            )
            page = await context.new_page()
            await page.goto("/admin/login?error=credentials")
            await page.screenshot(path=out / f"login-{width}.png", full_page=True)
            await sign_in(page, "ann.admin@plant.example")
            # A key and a webhook made here, to show the once-only pages.
            await page.goto("/admin/settings/api-keys")
            await page.fill("#key-name", f"Screenshot key {width}")
            await page.click("text=Create key")
            await page.wait_for_url("**/created?once=*")
            await page.screenshot(path=out / f"api-key-created-{width}.png", full_page=True)
            await page.goto("/admin/settings/api-keys")
            revoke = await page.locator("a:has-text('Revoke…')").first.get_attribute("href")
            await page.goto("/admin/settings/webhooks")
            hook = await page.locator("a:has-text('Delivery log')").first.get_attribute("href")
            pages = {
                "overview": "/admin/",
                "assets": "/admin/assets",
                "assets-cell": "/admin/assets?probability=4&consequence=4",
                "asset": f"/admin/assets/{asset['id']}",
                "assets-import": "/admin/assets/import",
                "api-keys": "/admin/settings/api-keys",
                "api-key-revoke": str(revoke),
                "webhooks": "/admin/settings/webhooks",
                "webhook": str(hook),
                "users": "/admin/users",
                "audit": "/admin/audit",
            }
            for name, path in pages.items():
                response = await page.goto(path)
                if response is None or response.status == 404:
                    print(f"{name}: {path} not there (404)")
                    continue
                await page.screenshot(path=out / f"{name}-{width}.png", full_page=True)
                if width < 600:  # the first screenful, at its real size, to read closely
                    await page.screenshot(path=out / f"{name}-{width}-top.png")
                if width == WIDTHS[0]:
                    weight = await page.evaluate(
                        "performance.getEntriesByType('resource')"
                        ".reduce((n, r) => n + r.decodedBodySize, 0)"
                        " + performance.getEntriesByType('navigation')[0].decodedBodySize"
                    )
                    print(f"{name:15} {path:60} {weight / 1024:6.1f} KB")
            # Assets > Import refusing a file: the row-level report.
            await page.goto("/admin/assets/import")
            await page.set_input_files(
                "#csv-file",
                {
                    "name": "register.csv",
                    "mimeType": "text/csv",
                    "buffer": bad_register(asset["tag_number"]),
                },
            )
            await page.click("button:has-text('Import')")
            await page.wait_for_selector("#import-report")
            await page.screenshot(path=out / f"assets-import-report-{width}.png", full_page=True)
            # ... and importing one: the result shown once after the redirect.
            good = f"tag_number,name,asset_type\nV-{width}1,Knock-out drum,vessel\n"
            await page.set_input_files(
                "#csv-file",
                {"name": "register.csv", "mimeType": "text/csv", "buffer": good.encode()},
            )
            await page.click("button:has-text('Import')")
            await page.wait_for_selector("#import-result")
            await page.screenshot(path=out / f"assets-import-done-{width}.png")
            await context.close()
            context = await browser.new_context(
                base_url=base, viewport={"width": width, "height": 900}
            )
            page = await context.new_page()
            await sign_in(page, "erik.engineer@plant.example")
            await page.goto("/admin/settings/api-keys")
            await page.screenshot(path=out / f"engineer-403-{width}.png", full_page=True)
            await context.close()
        await browser.close()


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "screenshots").resolve()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        demo = cli(data, "demo")
        key = next(w for w in demo.split() if w.startswith("rl_live_"))
        cli(
            data,
            "user",
            "create",
            "--tenant",
            "demo",
            "--email",
            "ann.admin@plant.example",
            "--role",
            "admin",
            "--password-stdin",
            stdin=PASSWORD + "\n",
        )
        cli(
            data,
            "user",
            "create",
            "--tenant",
            "demo",
            "--email",
            "erik.engineer@plant.example",
            "--role",
            "engineer",
            "--password-stdin",
            stdin=PASSWORD + "\n",
        )
        cli(
            data,
            "user",
            "invite",
            "--tenant",
            "demo",
            "--role",
            "engineer",
            "--email",
            "new.hire@plant.example",
        )
        cli(
            data,
            "webhook",
            "add",
            "--tenant",
            "demo",
            "--url",
            "https://cmms.plant.local/hooks/reliatic",
            "--event",
            "action.status_changed",
            "alert.escalated",
        )
        hook_id = json.loads(cli(data, "--json", "webhook", "list", "--tenant", "demo"))
        first = hook_id[0] if isinstance(hook_id, list) else hook_id["data"][0]
        cli(data, "webhook", "test", first["id"])
        port = free_port()
        server = subprocess.Popen(
            [
                RELIATIC,
                "--data-dir",
                str(data),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            # One browser signs in and out many times a minute here, from one address.
            env={**os.environ, "RELIATIC_RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE": "10000"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(100):
                try:
                    urllib.request.urlopen(base + "/admin/login")
                    break
                except OSError:
                    time.sleep(0.1)
            time.sleep(3)  # let the scheduler try the test ping once
            asyncio.run(shoot(base, key, out))
        finally:
            server.terminate()
            server.wait()
    print(f"screenshots in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
