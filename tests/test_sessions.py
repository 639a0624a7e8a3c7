"""Admin sessions (SPEC §4) against the real server: login, cookies, CSRF, timeouts and
dual authentication."""

from __future__ import annotations

import hashlib
import logging
import ssl
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from reliatic_appliance.app import create_app
from reliatic_appliance.keys import CONTROL_DB, PASSWORD_HASHER
from reliatic_appliance.services import api_keys, tenants, users
from tests import rawsql
from tests.conftest import ASSET, make_settings
from tests.sessions_support import (
    COOKIE,
    PASSWORD,
    START,
    TEST,
    Panel,
    Session,
    cookie_of,
    open_panel,
)


@pytest.fixture
async def panel(aiohttp_client: Callable[..., Awaitable[TestClient]], data_dir: Path) -> Panel:
    return await open_panel(aiohttp_client, data_dir)


# -- login ----------------------------------------------------------------------------------


async def test_json_login_answers_the_user_a_csrf_token_and_a_strict_cookie(panel: Panel) -> None:
    response = await panel.login("Ann@Acme.example")
    assert response.status == 200
    body = await response.json()
    assert set(body) == {"data", "meta"}
    assert body["data"]["user"]["id"] == panel.admin["id"]
    assert body["data"]["user"]["role"] == "admin"
    assert "password_hash" not in body["data"]["user"]
    assert len(body["data"]["csrf_token"]) >= 32
    assert response.headers["Cache-Control"] == "no-store"
    header = response.headers["Set-Cookie"]
    morsel = SimpleCookie(header)[COOKIE]
    assert morsel["httponly"] is True
    assert morsel["samesite"] == "Strict"
    assert morsel["path"] == "/"
    assert not morsel["secure"]  # plain HTTP here; `Secure` comes with TLS
    token = morsel.value
    assert len(token) >= 22  # >= 128 bits of URL-safe base64 (it is 256)
    # Stored only as its SHA-256.
    rows = await rawsql.rows(panel.control, "SELECT * FROM sessions")
    assert [r["token_hash"] for r in rows] == [hashlib.sha256(token.encode()).digest()]
    assert token not in repr(rows)


async def test_form_login_redirects_into_the_panel(panel: Panel) -> None:
    response = await panel.client.post(
        "/auth/login",
        data={"email": "ann@acme.example", "password": PASSWORD},
        allow_redirects=False,
    )
    assert response.status == 303
    assert response.headers["Location"] == "/admin/"
    assert SimpleCookie(response.headers["Set-Cookie"])[COOKIE]["httponly"] is True


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"email": "ann@acme.example", "password": "wrong password!"}, id="wrong"),
        pytest.param({"email": "nobody@acme.example", "password": PASSWORD}, id="unknown"),
        pytest.param({"email": "ann@acme.example"}, id="no-password"),
    ],
)
async def test_failed_form_login_goes_back_to_the_login_page(
    panel: Panel, fields: dict[str, str]
) -> None:
    response = await panel.client.post("/auth/login", data=fields, allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/admin/login?error=credentials"
    assert "Set-Cookie" not in response.headers


async def test_wrong_password_and_unknown_email_get_the_same_401(panel: Panel) -> None:
    wrong = await panel.login("ann@acme.example", "not the password")
    unknown = await panel.login("nobody@acme.example", PASSWORD)
    assert wrong.status == unknown.status == 401
    body = await wrong.json()
    assert body == await unknown.json()
    assert body == {
        "error": "unauthorized",
        "message": "The email or password is incorrect.",
        "details": [],
    }
    assert "Set-Cookie" not in wrong.headers and "Set-Cookie" not in unknown.headers


async def test_a_body_neither_json_nor_a_form_is_415_naming_both(panel: Panel) -> None:
    for path in ("/auth/login", "/auth/register"):
        response = await panel.client.post(
            path, data=b"email=ann", headers={"Content-Type": "text/plain"}
        )
        assert response.status == 415
        body = await response.json()
        assert body["error"] == "unsupported_media_type"
        assert "application/json or a form" in body["message"]


async def test_a_disabled_user_cannot_log_in(panel: Panel) -> None:
    await users.disable_user(panel.control, panel.admin["id"], tenant_id=None, by=TEST, now=START)
    response = await panel.login("ann@acme.example")
    assert response.status == 401
    assert (await response.json())["message"] == "The email or password is incorrect."


async def test_every_login_makes_a_new_session_and_ends_the_one_it_came_with(
    panel: Panel,
) -> None:
    first = await panel.session("ann@acme.example")
    second = await panel.login("ann@acme.example", headers={"Cookie": f"{COOKIE}={first.token}"})
    assert second.status == 200
    new_token = cookie_of(second)
    assert new_token != first.token
    assert (await first.request("GET", "/api/v1/assets")).status == 401
    renewed = Session(panel, new_token, (await second.json())["data"]["csrf_token"])
    assert renewed.csrf != first.csrf
    assert (await renewed.request("GET", "/api/v1/assets")).status == 200


# -- logout and the end of a session ---------------------------------------------------------


async def test_logout_needs_csrf_and_ends_the_session_on_the_server(panel: Panel) -> None:
    session = await panel.session("ann@acme.example")
    refused = await session.request("POST", "/auth/logout", csrf=False)
    assert refused.status == 403
    assert (await refused.json())["error"] == "forbidden"
    assert (await session.request("GET", "/api/v1/assets")).status == 200
    done = await session.request("POST", "/auth/logout")
    assert done.status == 204
    cleared = SimpleCookie(done.headers["Set-Cookie"])[COOKIE]
    assert cleared.value == "" and cleared["max-age"] == "0"
    after = await session.request("GET", "/api/v1/assets")
    assert after.status == 401
    assert (await after.json())["error"] == "unauthorized"
    rows = await rawsql.rows(panel.control, "SELECT * FROM sessions")
    assert rows == []


async def test_form_logout_with_the_hidden_field_redirects_to_the_login_page(
    panel: Panel,
) -> None:
    session = await panel.session("ann@acme.example")
    response = await session.request(
        "POST",
        "/auth/logout",
        csrf=False,
        data={"csrf_token": session.csrf},
        allow_redirects=False,
    )
    assert response.status == 303 and response.headers["Location"] == "/admin/login"
    assert (await session.request("GET", "/api/v1/assets")).status == 401


async def test_logout_without_a_session(panel: Panel) -> None:
    response = await panel.client.post("/auth/logout", json={})
    assert response.status == 401
    assert (await response.json())["error"] == "unauthorized"
    form = await panel.client.post("/auth/logout", data={}, allow_redirects=False)
    assert form.status == 303 and form.headers["Location"] == "/admin/login"


async def test_idle_timeout_ends_a_session_after_12_hours_without_requests(
    panel: Panel,
) -> None:
    session = await panel.session("ann@acme.example")
    panel.clock.advance(hours=11, minutes=59)
    assert (await session.request("GET", "/api/v1/assets")).status == 200  # seen again
    panel.clock.advance(hours=11, minutes=59)
    assert (await session.request("GET", "/api/v1/assets")).status == 200
    panel.clock.advance(hours=12, seconds=1)
    assert (await session.request("GET", "/api/v1/assets")).status == 401


async def test_absolute_timeout_ends_a_busy_session_after_7_days(panel: Panel) -> None:
    session = await panel.session("ann@acme.example")
    for _ in range(15):  # a request every 11 h keeps it from going idle...
        panel.clock.advance(hours=11)
        assert (await session.request("GET", "/api/v1/assets")).status == 200
    panel.clock.advance(hours=3)  # ...but 7 days after login it ends (165 h + 3 h)
    assert (await session.request("GET", "/api/v1/assets")).status == 401


async def test_disabling_a_user_ends_its_sessions(panel: Panel) -> None:
    session = await panel.session("ann@acme.example")
    other = await panel.session("ann@acme.example")
    await users.disable_user(panel.control, panel.admin["id"], tenant_id=None, by=TEST, now=START)
    assert (await session.request("GET", "/api/v1/assets")).status == 401
    assert (await other.request("GET", "/api/v1/assets")).status == 401
    rows = await rawsql.rows(panel.control, "SELECT * FROM sessions")
    assert rows == []


async def test_disabling_the_tenant_refuses_its_sessions_and_logins(panel: Panel) -> None:
    session = await panel.session("ann@acme.example")
    await tenants.disable_tenant(panel.control, "acme", by=TEST, now=START)
    assert (await session.request("GET", "/api/v1/assets")).status == 401
    assert (await panel.login("ann@acme.example")).status == 401
    await tenants.enable_tenant(panel.control, "acme", by=TEST, now=START)
    assert (await panel.login("ann@acme.example")).status == 200


async def test_a_forged_cookie_is_unauthorized(panel: Panel) -> None:
    response = await panel.client.get("/api/v1/assets", headers={"Cookie": f"{COOKIE}=" + "A" * 43})
    assert response.status == 401
    assert (await response.json())["error"] == "unauthorized"


# -- CSRF and permissions ----------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="missing"),
        pytest.param({"X-CSRF-Token": "not-the-token"}, id="wrong"),
        pytest.param({"X-CSRF-Token": ""}, id="empty"),
    ],
)
async def test_a_cookie_write_without_the_right_csrf_token_is_forbidden(
    panel: Panel, headers: dict[str, str]
) -> None:
    session = await panel.session("ann@acme.example")
    response = await session.request(
        "POST", "/api/v1/assets", csrf=False, headers=headers, json=ASSET
    )
    assert response.status == 403
    body = await response.json()
    assert body["error"] == "forbidden" and "CSRF" in body["message"]
    listed = await session.request("GET", "/api/v1/assets")
    assert (await listed.json())["meta"]["total"] == 0  # nothing written


async def test_another_sessions_csrf_token_is_wrong(panel: Panel) -> None:
    mine = await panel.session("ann@acme.example")
    theirs = await panel.session("eve@acme.example")
    response = await mine.request(
        "POST", "/api/v1/assets", csrf=False, headers={"X-CSRF-Token": theirs.csrf}, json=ASSET
    )
    assert response.status == 403


async def test_admin_session_writes_the_domain_with_its_csrf_token(panel: Panel) -> None:
    session = await panel.session("ann@acme.example")
    response = await session.request("POST", "/api/v1/assets", json=ASSET)
    assert response.status == 201, await response.text()
    asset = (await response.json())["data"]
    moved = await session.request("PUT", f"/api/v1/assets/{asset['id']}", json={"name": "Renamed"})
    assert moved.status == 200


async def test_admin_session_can_create_a_key_that_then_works(panel: Panel) -> None:
    session = await panel.session("ann@acme.example")
    response = await session.request(
        "POST", "/api/v1/api-keys", json={"name": "CMMS", "level": "read_only"}
    )
    assert response.status == 201, await response.text()
    key = (await response.json())["data"]["key"]
    stored = await rawsql.row(panel.control, "SELECT created_by FROM api_keys")
    assert stored is not None
    assert stored["created_by"] == panel.admin["id"]
    used = await panel.client.get("/api/v1/assets", headers={"Authorization": f"Bearer {key}"})
    assert used.status == 200
    assert (await session.request("GET", "/api/v1/api-keys")).status == 200


async def test_engineer_session_reads_the_domain_and_nothing_more(panel: Panel) -> None:
    session = await panel.session("eve@acme.example")
    assert (await session.request("GET", "/api/v1/assets")).status == 200
    assert (await session.request("GET", "/api/v1/actions")).status == 200
    write = await session.request("POST", "/api/v1/assets", json=ASSET)
    assert write.status == 403
    assert await write.json() == {
        "error": "forbidden",
        "message": "Your role lacks required permission: assets:write",
        "details": [],
    }
    keys = await session.request("GET", "/api/v1/api-keys")
    assert keys.status == 403
    hooks = await session.request("GET", "/api/v1/webhooks")
    assert hooks.status == 403


async def test_a_bearer_header_wins_over_the_cookie(panel: Panel) -> None:
    session = await panel.session("ann@acme.example")
    _, read_only = await api_keys.create_key(
        panel.control,
        tenant_id=panel.tenant["id"],
        name="ro",
        level="read_only",
        by=TEST,
        now=START,
    )
    # The admin cookie would allow this write; the read-only key in the header decides.
    response = await session.request(
        "POST", "/api/v1/assets", json=ASSET, headers={"Authorization": f"Bearer {read_only}"}
    )
    assert response.status == 403
    assert (await response.json())["message"] == "API key lacks required permission: assets:write"
    # A bad key is refused even with a good cookie beside it.
    bad = await session.request(
        "GET", "/api/v1/assets", headers={"Authorization": "Bearer rl_live_" + "A" * 43}
    )
    assert bad.status == 401 and (await bad.json())["error"] == "invalid_api_key"
    # And a Bearer request needs no CSRF token, cookie or not.
    _, writer = await api_keys.create_key(
        panel.control,
        tenant_id=panel.tenant["id"],
        name="rw",
        level="read_write",
        by=TEST,
        now=START,
    )
    made = await session.request(
        "POST",
        "/api/v1/assets",
        csrf=False,
        json=ASSET,
        headers={"Authorization": f"Bearer {writer}"},
    )
    assert made.status == 201


async def test_session_requests_are_rate_limited_per_user(
    aiohttp_client: Callable[..., Awaitable[TestClient]], data_dir: Path
) -> None:
    settings = make_settings(data_dir, {"RELIATIC_RATE_LIMIT_DEFAULT_PER_MINUTE": "3"})
    app = create_app(settings, run_scheduler=False)
    client = await aiohttp_client(app)
    tenant = await tenants.create_tenant(app[CONTROL_DB], data_dir, slug="acme", by=TEST, now=START)
    await users.create_user(
        app[CONTROL_DB],
        app[PASSWORD_HASHER],
        tenant_id=tenant["id"],
        email="a@acme.example",
        role="admin",
        password=PASSWORD,
        by=TEST,
        now=START,
    )
    login = await client.post("/auth/login", json={"email": "a@acme.example", "password": PASSWORD})
    token = cookie_of(login)
    client.session.cookie_jar.clear()
    statuses = [
        (await client.get("/api/v1/assets", headers={"Cookie": f"{COOKIE}={token}"})).status
        for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]


async def test_the_access_log_names_the_user_never_the_cookie_or_password(
    panel: Panel, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    session = await panel.session("ann@acme.example")
    assert (await session.request("GET", "/api/v1/assets")).status == 200
    await session.request("POST", "/auth/logout")
    lines = [r.fields for r in caplog.records if r.name == "reliatic.access"]  # type: ignore[attr-defined]
    by_path = {(line["method"], line["path"]): line for line in lines}
    read = by_path[("GET", "/api/v1/assets")]
    assert read["user_id"] == panel.admin["id"] and read["key_id"] is None
    assert read["tenant"] == "acme"
    assert by_path[("POST", "/auth/logout")]["user_id"] == panel.admin["id"]
    text = caplog.text + repr([r.__dict__ for r in caplog.records])
    assert session.token not in text and session.csrf not in text and PASSWORD not in text


def _self_signed(directory: Path) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime.now(UTC) - timedelta(days=1))
        .not_valid_after(datetime.now(UTC) + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


async def test_over_tls_the_cookie_is_secure(
    aiohttp_client: Callable[..., Awaitable[TestClient]], data_dir: Path, tmp_path: Path
) -> None:
    app = create_app(make_settings(data_dir), run_scheduler=False)
    server = TestServer(app)
    # Started here, since only start_server takes `ssl`; the client then finds it running.
    await server.start_server(ssl=_self_signed(tmp_path))
    client = await aiohttp_client(server)
    tenant = await tenants.create_tenant(app[CONTROL_DB], data_dir, slug="acme", by=TEST, now=START)
    await users.create_user(
        app[CONTROL_DB],
        app[PASSWORD_HASHER],
        tenant_id=tenant["id"],
        email="a@acme.example",
        role="admin",
        password=PASSWORD,
        by=TEST,
        now=START,
    )
    response = await client.post(
        "/auth/login", json={"email": "a@acme.example", "password": PASSWORD}, ssl=False
    )
    assert response.status == 200
    assert str(response.url).startswith("https://")
    morsel = SimpleCookie(response.headers["Set-Cookie"])[COOKIE]
    assert morsel["secure"] is True and morsel["httponly"] is True
    assert morsel["samesite"] == "Strict"
