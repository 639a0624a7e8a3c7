"""The panel before sign-in: the login page, its headers and weight, and the redirect of
every other page to it (SPEC §10)."""

from __future__ import annotations

import re

from aiohttp.test_utils import TestClient

from reliatic_appliance.admin.render import CSP

PAGES = [
    "/admin/",
    "/admin/assets",
    "/admin/assets/ast_x",
    "/admin/settings/api-keys",
    "/admin/settings/webhooks",
]


async def test_pages_send_a_stranger_to_the_login_page(client: TestClient) -> None:
    for path in PAGES:
        response = await client.get(path, allow_redirects=False)
        assert response.status == 303, path
        assert response.headers["Location"] == "/admin/login", path


async def test_the_login_page_is_strict_and_light(client: TestClient) -> None:
    response = await client.get("/admin/login?error=credentials")
    assert response.status == 200
    assert response.headers["Content-Security-Policy"] == CSP
    assert "default-src 'self'" in CSP and "frame-ancestors 'none'" in CSP
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    text = await response.text()
    assert '<meta name="csrf-token"' in text
    assert "The email or password is not right" in text
    assert 'action="/auth/login"' in text
    assert "<script>" not in text and "style=" not in text


async def test_unknown_error_codes_show_nothing(client: TestClient) -> None:
    text = await (await client.get("/admin/login?error=<b>pwned</b>")).text()
    assert "pwned" not in text and 'role="alert"' not in text


async def test_the_registration_page_carries_the_token_escaped(client: TestClient) -> None:
    text = await (await client.get('/admin/register?token="><x')).text()
    assert 'value="&#34;&gt;&lt;x"' in text


async def test_static_files_are_served_from_the_package(client: TestClient) -> None:
    for path in (
        "/admin/static/panel.css",
        "/admin/static/panel.js",
        "/admin/static/htmx/htmx.min.js",
    ):
        response = await client.get(path)
        assert response.status == 200, path
    htmx = await (await client.get("/admin/static/htmx/htmx.min.js")).text()
    assert 'version:"2.0.11"' in htmx.replace(" ", "")


async def test_linked_static_files_are_versioned_and_kept_by_the_browser(
    client: TestClient,
) -> None:
    text = await (await client.get("/admin/login")).text()
    linked = re.findall(r'(?:href|src)="(/admin/static/[^"]+)"', text)
    assert len(linked) == 4
    for url in linked:
        assert "?v=" in url, url
        response = await client.get(url)
        assert response.status == 200
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
