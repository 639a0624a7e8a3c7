"""Registration by invitation (SPEC §4, §10), and the audit entries of users and sessions
(SPEC §5)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from reliatic_appliance.keys import TENANT_DBS
from reliatic_appliance.services import audit, users
from reliatic_appliance.services.paging import PageRequest
from tests import rawsql
from tests.sessions_support import (
    COOKIE,
    PASSWORD,
    START,
    TEST,
    Panel,
    cookie_of,
    invite,
    open_panel,
)


@pytest.fixture
async def panel(aiohttp_client: Callable[..., Awaitable[TestClient]], data_dir: Path) -> Panel:
    return await open_panel(aiohttp_client, data_dir)


async def test_registration_with_an_invitation_creates_the_user_and_logs_in(
    panel: Panel,
) -> None:
    token = await invite(panel, role="engineer")
    response = await panel.client.post(
        "/auth/register",
        json={"token": token, "password": "a long new passphrase", "email": "New@acme.example"},
    )
    assert response.status == 201, await response.text()
    user = (await response.json())["data"]["user"]
    assert user["email"] == "new@acme.example" and user["role"] == "engineer"
    assert user["tenant_id"] == panel.tenant["id"]
    cookie = cookie_of(response)
    panel.client.session.cookie_jar.clear()
    listed = await panel.client.get("/api/v1/assets", headers={"Cookie": f"{COOKIE}={cookie}"})
    assert listed.status == 200
    assert (await panel.login("new@acme.example", "a long new passphrase")).status == 200
    again = await panel.client.post(
        "/auth/register",
        json={"token": token, "password": "another passphrase", "email": "x@acme.example"},
    )
    assert again.status == 400
    detail = (await again.json())["details"][0]
    assert detail["field"] == "token" and "already been used" in detail["message"]


async def test_an_expired_or_unknown_invitation_is_refused(panel: Panel) -> None:
    token = await invite(panel)
    panel.clock.advance(days=7, seconds=1)
    body = {"token": token, "password": "a long new passphrase", "email": "late@acme.example"}
    expired = await panel.client.post("/auth/register", json=body)
    assert expired.status == 400
    assert "expired" in (await expired.json())["details"][0]["message"]
    unknown = await panel.client.post("/auth/register", json={**body, "token": "nope"})
    assert unknown.status == 400
    assert "not a valid invitation" in (await unknown.json())["details"][0]["message"]
    listed = await users.list_users(panel.control, panel.tenant["id"], PageRequest())
    assert "late@acme.example" not in [u["email"] for u in listed.items]


async def test_an_invitation_for_an_address_takes_only_that_address(panel: Panel) -> None:
    token = await invite(panel, role="admin", email="boss@acme.example")
    wrong = await panel.client.post(
        "/auth/register",
        json={"token": token, "password": "a long new passphrase", "email": "me@acme.example"},
    )
    assert wrong.status == 400 and (await wrong.json())["details"][0]["field"] == "email"
    right = await panel.client.post(
        "/auth/register", json={"token": token, "password": "a long new passphrase"}
    )
    assert right.status == 201
    assert (await right.json())["data"]["user"]["role"] == "admin"


async def test_a_short_password_is_refused_at_registration(panel: Panel) -> None:
    token = await invite(panel)
    response = await panel.client.post(
        "/auth/register", json={"token": token, "password": "short", "email": "s@acme.example"}
    )
    assert response.status == 400
    assert (await response.json())["details"][0]["field"] == "password"
    # The invitation was not spent on a refused attempt.
    ok = await panel.client.post(
        "/auth/register",
        json={"token": token, "password": "long enough now", "email": "s@acme.example"},
    )
    assert ok.status == 201


async def test_form_registration_redirects_in_or_back_with_the_error(panel: Panel) -> None:
    token = await invite(panel)
    bad = await panel.client.post(
        "/auth/register",
        data={"token": token, "password": "short", "email": "f@acme.example"},
        allow_redirects=False,
    )
    assert bad.status == 303
    assert bad.headers["Location"] == f"/admin/register?token={token}&error=password"
    good = await panel.client.post(
        "/auth/register",
        data={"token": token, "password": "long enough now", "email": "f@acme.example"},
        allow_redirects=False,
    )
    assert good.status == 303 and good.headers["Location"] == "/admin/"
    assert COOKIE in SimpleCookie(good.headers["Set-Cookie"])
    used = await panel.client.post(
        "/auth/register",
        data={"token": token, "password": "long enough now", "email": "g@acme.example"},
        allow_redirects=False,
    )
    assert used.headers["Location"] == f"/admin/register?token={token}&error=invitation"


# -- the audit log (SPEC §5) ----------------------------------------------------------------


async def test_user_and_session_acts_are_audited_without_a_secret(panel: Panel) -> None:
    admin_id, engineer_id = panel.admin["id"], panel.engineer["id"]
    assert (await panel.login("ann@acme.example", "wrong password")).status == 401
    assert (await panel.login("nobody@acme.example", "wrong password")).status == 401
    await users.disable_user(panel.control, engineer_id, tenant_id=None, by=TEST, now=START)
    assert (await panel.login("eve@acme.example")).status == 401  # disabled
    token = await invite(panel, role="engineer")
    registered = await panel.client.post(
        "/auth/register",
        json={"token": token, "password": "a long new passphrase", "email": "new@acme.example"},
    )
    assert registered.status == 201
    new_id = (await registered.json())["data"]["user"]["id"]
    panel.client.session.cookie_jar.clear()
    session = await panel.session("ann@acme.example")
    response = await session.request("GET", "/api/v1/audit-log?per_page=100&sort=created_at")
    assert response.status == 200, await response.text()
    entries = (await response.json())["data"]
    await session.request("POST", "/auth/logout")

    def acts(action: str) -> list[tuple[str, str | None, dict[str, Any]]]:
        return [
            (e["actor"], e["target_id"], e["changes"]) for e in entries if e["action"] == action
        ]

    assert acts("user.created") == [
        ("test", admin_id, {"email": "ann@acme.example", "role": "admin"}),
        ("test", engineer_id, {"email": "eve@acme.example", "role": "engineer"}),
    ]
    assert acts("session.login_failed") == [
        (admin_id, admin_id, {"reason": "wrong password"}),
        (engineer_id, engineer_id, {"reason": "user disabled"}),
    ]  # and nothing for the email nobody has
    assert acts("user.disabled") == [
        ("test", engineer_id, {"email": "eve@acme.example", "sessions_ended": 0})
    ]
    [(actor, target, changes)] = acts("invitation.created")
    assert actor == admin_id and changes["role"] == "engineer" and changes["email"] is None
    [(actor, target, changes)] = acts("user.registered")
    assert actor == target == new_id
    assert changes["email"] == "new@acme.example" and changes["role"] == "engineer"
    assert changes["invitation"].startswith("inv_")
    logins = acts("session.login")
    assert [(a, t) for a, t, _ in logins] == [(new_id, new_id), (admin_id, admin_id)]
    assert all(e["address"] == "127.0.0.1" for e in entries if e["action"].startswith("session"))
    text = repr(entries)
    assert PASSWORD not in text and "passphrase" not in text and token not in text
    assert session.token not in text and "argon2" not in text
    # The logout came after the listing: read the chain and check it whole.
    check = await audit.verify(
        panel.control,
        await panel.client.app[TENANT_DBS].get(panel.tenant["id"]),
        panel.tenant["id"],
    )
    assert check.ok
    control_entries = [e for e in entries if e["chain"] == "control"]
    assert check.chains[0].checked == len(control_entries) + 1  # + the logout
    table = rawsql.control_table(panel.control, "audit_log")
    last = await rawsql.row(
        panel.control, f"SELECT actor, action FROM {table} ORDER BY seq DESC LIMIT 1"
    )
    assert last == {"actor": admin_id, "action": "session.logout"}
