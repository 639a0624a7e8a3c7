"""What the session tests share: a server with one tenant, an admin and an engineer, a
clock the tests move, and sessions whose cookie and CSRF token each request names."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from reliatic_appliance.app import create_app
from reliatic_appliance.keys import (
    CONTROL_DB,
    PASSWORD_HASHER,
)
from reliatic_appliance.services import tenants, users
from reliatic_appliance.services.audit import Who
from tests.conftest import make_settings

START = datetime(2026, 12, 1, 8, 0, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple"
COOKIE = "reliatic_session"
TEST = Who("test")


class Clock:
    def __init__(self) -> None:
        self.moment = START

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> None:
        self.moment += timedelta(**delta)


@dataclass
class Panel:
    """A server with tenant `acme`, its admin ann@ and engineer eve@, and a movable clock."""

    client: TestClient
    clock: Clock
    tenant: dict[str, Any]
    admin: dict[str, Any]
    engineer: dict[str, Any]

    @property
    def control(self) -> Any:
        return self.client.app[CONTROL_DB]

    async def login(self, email: str, password: str = PASSWORD, **kw: Any) -> ClientResponse:
        response = await self.client.post(
            "/auth/login", json={"email": email, "password": password}, **kw
        )
        # Each test says which cookie it sends: nothing rides along in the client's jar.
        self.client.session.cookie_jar.clear()
        return response

    async def session(self, email: str) -> Session:
        response = await self.login(email)
        assert response.status == 200, await response.text()
        body = await response.json()
        return Session(self, cookie_of(response), body["data"]["csrf_token"])


@dataclass
class Session:
    panel: Panel
    token: str
    csrf: str

    def headers(self, csrf: bool = True, **extra: str) -> dict[str, str]:
        out = {"Cookie": f"{COOKIE}={self.token}", **extra}
        if csrf:
            out["X-CSRF-Token"] = self.csrf
        return out

    async def request(
        self,
        method: str,
        path: str,
        *,
        csrf: bool = True,
        headers: dict[str, str] | None = None,
        **kw: Any,
    ) -> ClientResponse:
        return await self.panel.client.request(
            method, path, headers={**self.headers(csrf), **(headers or {})}, **kw
        )


def cookie_of(response: ClientResponse) -> str:
    morsel = SimpleCookie(response.headers["Set-Cookie"])[COOKIE]
    return morsel.value


async def open_panel(
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    data_dir: Path,
    env: dict[str, str] | None = None,
) -> Panel:
    """The `panel` fixture's body: each test module declares the fixture in four lines.
    `env`: settings beyond the tests' own (RELIATIC_* names)."""
    clock = Clock()
    app = create_app(make_settings(data_dir, env), clock=clock, run_scheduler=False)
    client = await aiohttp_client(app)
    control, hasher = app[CONTROL_DB], app[PASSWORD_HASHER]
    tenant = await tenants.create_tenant(control, data_dir, slug="acme", by=TEST, now=START)
    made = {}
    for email, role in (("ann@acme.example", "admin"), ("eve@acme.example", "engineer")):
        made[role] = await users.create_user(
            control,
            hasher,
            tenant_id=tenant["id"],
            email=email,
            role=role,
            password=PASSWORD,
            by=TEST,
            now=START,
        )
    return Panel(client, clock, tenant, made["admin"], made["engineer"])


async def invite(panel: Panel, role: str = "engineer", email: str | None = None) -> str:
    invitation = await users.invite(
        panel.control,
        tenant_id=panel.tenant["id"],
        role=role,
        email=email,
        by=Who(panel.admin["id"]),
        now=panel.clock(),
    )
    assert invitation.link == f"/admin/register?token={invitation.token}"
    return invitation.token
