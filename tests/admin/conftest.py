"""A tenant with an admin and an engineer signed in to the panel, over a real server."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from reliatic_appliance.keys import CONTROL_DB, PASSWORD_HASHER
from reliatic_appliance.services import users
from reliatic_appliance.services.audit import Who
from reliatic_appliance.timefmt import utc_now
from tests.conftest import Api, open_api

PASSWORD = "correct horse battery staple"
ADMIN = "anna.admin@plant.example"
ENGINEER = "erik.engineer@plant.example"
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


@dataclass
class Panel:
    """The admin's browser-like client (`client`, cookies kept), the engineer's, and a
    Bearer key of the same tenant to make domain data through the API."""

    client: TestClient
    engineer: aiohttp.ClientSession
    api: Api
    csrf: str
    engineer_csrf: str

    def url(self, path: str) -> str:
        return str(self.client.make_url(path))

    async def form(self, path: str, data: dict[str, str] | list[tuple[str, str]], **kw: object):
        """POST a form as the admin, the page's CSRF token added unless `data` has one."""
        fields = list(data.items()) if isinstance(data, dict) else list(data)
        if not any(name == "csrf_token" for name, _ in fields):
            fields.append(("csrf_token", self.csrf))
        return await self.client.post(path, data=fields, allow_redirects=False, **kw)


async def sign_in(session: aiohttp.ClientSession | TestClient, base: str, email: str) -> str:
    """Log in with the form the login page posts; the CSRF token from the page it lands on."""
    response = await session.post(
        f"{base}/auth/login", data={"email": email, "password": PASSWORD}, allow_redirects=False
    )
    assert response.status == 303, await response.text()
    assert response.headers["Location"] == "/admin/"
    page = await session.get(f"{base}/admin/")
    match = CSRF_META.search(await page.text())
    assert match, "the panel page carries no CSRF token"
    return match[1]


async def add_user(client: TestClient, tenant_id: str, email: str, role: str) -> None:
    """A user with PASSWORD, as `reliatic user create` makes one."""
    await users.create_user(
        client.app[CONTROL_DB],
        client.app[PASSWORD_HASHER],
        tenant_id=tenant_id,
        email=email,
        role=role,
        password=PASSWORD,
        by=Who("cli:test"),
        now=utc_now(),
    )


@pytest.fixture
async def panel(client: TestClient) -> AsyncIterator[Panel]:
    api = await open_api(client, ["api_keys:write", "webhooks:write"])
    for email, role in ((ADMIN, "admin"), (ENGINEER, "engineer")):
        await add_user(client, api.tenant["id"], email, role)
    base = str(client.make_url("")).rstrip("/")
    csrf = await sign_in(client, "", ADMIN)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as engineer:
        engineer_csrf = await sign_in(engineer, base, ENGINEER)
        yield Panel(client, engineer, api, csrf, engineer_csrf)
