"""`reliatic selftest [--url U]`: prove the RUNNING service works end to end, offline
(SPEC §2). What a technician runs after installing or upgrading.

It makes a throwaway tenant (`selftest-<random>`) and a key in the data dir through the
services (so it runs as root or as the `reliatic` user; root drops to the data dir's owner
first, so every file it makes belongs to the service), then over HTTP: /healthz, /readyz,
an asset, an inspection, an action and a status transition. A subscription to
`action.status_changed` points at an HTTPS receiver the selftest starts on loopback with a
throwaway certificate; the service must deliver the event there, signed, and both signatures
(X-Reliatic-Signature and Standard Webhooks) must verify. Target safety refuses loopback and
plain http by default, and is not loosened: the one subscription carries a narrow, expiring
grant (services/target_grants.py explains why that is safe). Every step prints its time; the
first failure stops the run, names the step and the reason, and exits 1. The tenant, its key,
its file and the grant are removed however the run ends.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hmac
import json
import os
import secrets
import socket
import ssl
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from aiohttp import web

from reliatic_appliance.cli.context import (
    CliContext,
    CliError,
    cli_who,
    environment,
    server_url,
)
from reliatic_appliance.domain.signing import reliatic_signature, standard_signature
from reliatic_appliance.errors import ApiError, NotFound
from reliatic_appliance.ports import ControlDb, TenantDb
from reliatic_appliance.secretbox import SecretBox, SecretBoxError
from reliatic_appliance.services import api_keys, tenants
from reliatic_appliance.services import webhooks as hooks
from reliatic_appliance.services.paging import PageRequest
from reliatic_appliance.services.target_grants import (
    GRANT_POLICY,
    TargetGrant,
    remove_grant,
    write_grant,
)
from reliatic_appliance.settings import ENV_DATA_DIR, SYSTEM_DATA_DIR
from reliatic_appliance.storage.backends import (
    OpenStorage,
    StorageUnusable,
    is_postgresql,
    open_storage,
)
from reliatic_appliance.storage.layout import master_key_file
from reliatic_appliance.storage.tenancy import control_file
from reliatic_appliance.timefmt import format_ts, utc_now
from reliatic_appliance.tlscert import make_self_signed, server_context

T = TypeVar("T")
EVENT = "action.status_changed"
HTTP_TIMEOUT = 10.0
# How long the service gets to deliver the webhook: a few scheduler ticks and a retry.
DELIVERY_TIMEOUT = 90.0
# Receivers reject timestamps older than this (Standard Webhooks); so does the selftest.
TOLERANCE_SECONDS = 300
GRANT_LIFETIME = timedelta(minutes=10)


class StepFailed(Exception):
    """A step did not pass; `str()` is the reason."""


@dataclass
class Report:
    json_output: bool
    steps: list[dict[str, Any]] = field(default_factory=list)

    async def step(self, name: str, work: Callable[[], Awaitable[T]]) -> T:
        started = time.perf_counter()
        try:
            result = await work()
        except StepFailed as exc:
            self._record(name, started, str(exc))
            raise
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            reason = _network_reason(exc)
            self._record(name, started, reason)
            raise StepFailed(reason) from None
        except ApiError as exc:  # a service refused (a busy database, a disabled tenant, ...)
            self._record(name, started, exc.message)
            raise StepFailed(exc.message) from None
        self._record(name, started, None)
        return result

    def _record(self, name: str, started: float, error: str | None) -> None:
        ms = (time.perf_counter() - started) * 1000
        self.steps.append({"step": name, "ok": error is None, "ms": round(ms, 1), "error": error})
        if not self.json_output:
            mark = "[ ok ]" if error is None else "[FAIL]"
            tail = "" if error is None else f": {error}"
            print(f"{mark} {name:<44} {ms:8.0f} ms{tail}", flush=True)


def _network_reason(exc: BaseException) -> str:
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return (
            f"the server's certificate does not verify: {exc.certificate_error}; pass --url"
            " with a name the certificate carries, or --cacert with the CA that signed it"
        )
    if isinstance(exc, aiohttp.ClientConnectorError) and isinstance(
        exc.os_error, ConnectionRefusedError
    ):
        return (
            f"connection refused by {exc.host}:{exc.port}: is the service running?"
            " (systemctl status reliatic)"
        )
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect to {exc.host}:{exc.port}: {exc.strerror or exc.os_error}"
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    return f"{type(exc).__name__}: {exc}"


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    parser = sub.add_parser(
        "selftest",
        parents=[common],
        help="exercise the running service end to end in a throwaway tenant (offline)",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
        epilog="example: sudo reliatic selftest   (or: sudo -u reliatic reliatic selftest)",
    )
    parser.add_argument(
        "--url",
        metavar="U",
        help="the service's base URL (default: from the config, e.g. https://127.0.0.1:8080)",
    )
    parser.add_argument(
        "--cacert",
        metavar="FILE",
        help="CA certificate to trust for the service (default: the system's and tls_cert)",
    )
    parser.set_defaults(run=run)


def _client_ssl(ctx: CliContext, cacert: str | None) -> ssl.SSLContext:
    """System CAs, plus the configured certificate (self-signed: its own anchor), plus --cacert."""
    context = ssl.create_default_context()
    extra = [Path(cacert)] if cacert else []
    if ctx.settings.server.tls_cert is not None:
        extra.append(ctx.settings.server.tls_cert)
    for path in extra:
        try:
            context.load_verify_locations(cafile=str(path))
        except (OSError, ssl.SSLError) as exc:
            if cacert and path == Path(cacert):
                raise CliError(f"--cacert {path}: cannot load: {exc}") from None
    return context


def _data_dir(ctx: CliContext, explicit: bool) -> Path:
    """Root on the appliance means the appliance's data dir, not ./var (SPEC §2's default)."""
    if explicit or control_file(ctx.data_dir).exists():
        return ctx.data_dir
    if os.geteuid() == 0 and control_file(SYSTEM_DATA_DIR).exists():
        return SYSTEM_DATA_DIR
    return ctx.data_dir


def _become_owner(data_dir: Path) -> None:
    """As root, act as the data dir's owner: a tenant file root made would be unwritable for
    the service. (The server's TLS files are read before this, by path, as root.)"""
    if os.geteuid() != 0:
        return
    info = data_dir.stat()
    if info.st_uid == 0:
        return
    os.setgroups([])
    os.setgid(info.st_gid)
    os.setuid(info.st_uid)


async def run(ctx: CliContext, args: argparse.Namespace) -> int:
    url = (args.url or server_url(ctx.settings)).rstrip("/")
    client_ssl = _client_ssl(ctx, args.cacert)
    explicit = hasattr(args, "data_dir") or ENV_DATA_DIR in environment()
    data_dir = _data_dir(ctx, explicit=explicit)
    report = Report(ctx.json_output)
    if not ctx.json_output:
        print(f"reliatic selftest: {url} (data dir {data_dir})", flush=True)
    started = time.perf_counter()
    # The first failure stops the steps; the clean-up still runs and is reported too.
    with contextlib.suppress(StepFailed):
        await _run_steps(ctx, report, url, client_ssl, data_dir)
    failed = next((s for s in report.steps if not s["ok"]), None)
    error = None if failed is None else f"selftest failed at '{failed['step']}': {failed['error']}"
    seconds = time.perf_counter() - started
    if ctx.json_output:
        ctx.emit({"url": url, "passed": error is None, "steps": report.steps, "error": error}, [])
    elif error is None:
        print(f"selftest passed: {len(report.steps)} steps in {seconds:.1f} s")
    if error is not None:
        raise CliError(error)
    return 0


@dataclass
class _Receiver:
    """The loopback HTTPS receiver: keeps what arrives, answers 200."""

    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append((dict(request.headers), await request.read()))
        self.arrived.set()
        return web.Response(status=200)


@contextlib.asynccontextmanager
async def loopback_receiver() -> AsyncIterator[tuple[_Receiver, str, str]]:
    """(receiver, its https URL, the CA PEM to trust it with): a throwaway certificate for
    127.0.0.1 whose key lives in a private temp dir for as long as this runs."""
    made = make_self_signed(["127.0.0.1"], now=utc_now(), validity=GRANT_LIFETIME * 2)
    receiver = _Receiver()
    app = web.Application()
    app.router.add_post("/selftest", receiver.handle)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))  # any free port; the grant names it
    port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory(prefix="reliatic-selftest-") as tmp:
        cert, key = Path(tmp) / "cert.pem", Path(tmp) / "key.pem"
        cert.write_bytes(made.cert_pem)
        key.touch(mode=0o600)
        key.write_bytes(made.key_pem)
        site = web.SockSite(runner, sock, ssl_context=server_context(cert, key))
        try:
            await site.start()
            yield receiver, f"https://127.0.0.1:{port}/selftest", made.cert_pem.decode()
        finally:
            await runner.cleanup()
            sock.close()


def _verify(headers: dict[str, str], body: bytes, secret: str, *, now: float) -> dict[str, Any]:
    """Both signatures of SPEC §7, checked as a receiver would; the payload."""
    lower = {k.lower(): v for k, v in headers.items()}
    given = lower.get("x-reliatic-signature", "")
    if not hmac.compare_digest(given, reliatic_signature(secret, body)):
        raise StepFailed("X-Reliatic-Signature does not verify")
    msg_id, stamp = lower.get("webhook-id", ""), lower.get("webhook-timestamp", "")
    if not stamp.isdigit() or abs(now - int(stamp)) > TOLERANCE_SECONDS:
        raise StepFailed(f"webhook-timestamp {stamp!r} is not within 5 minutes of now")
    expected = standard_signature(secret, msg_id, int(stamp), body)
    offered = lower.get("webhook-signature", "").split()
    if not any(hmac.compare_digest(sig, expected) for sig in offered):
        raise StepFailed("webhook-signature (Standard Webhooks) does not verify")
    payload: dict[str, Any] = json.loads(body)
    if payload.get("delivery_id") != msg_id:
        raise StepFailed("webhook-id is not the payload's delivery_id")
    return payload


async def _run_steps(
    ctx: CliContext, report: Report, url: str, client_ssl: ssl.SSLContext, data_dir: Path
) -> None:
    timeout = aiohttp.ClientTimeout(total=HTTP_TIMEOUT)
    async with aiohttp.ClientSession(timeout=timeout, trust_env=False) as http:

        async def expect(method: str, path: str, status: int, **kw: Any) -> Any:
            async with http.request(method, url + path, ssl=client_ssl, **kw) as response:
                text = await response.text()
                if response.status != status:
                    raise StepFailed(f"{method} {path} answered {response.status}: {text[:200]}")
                return json.loads(text) if text else None

        await report.step("GET /healthz", lambda: expect("GET", "/healthz", 200))
        await report.step("GET /readyz", lambda: expect("GET", "/readyz", 200))
        await report.step("data dir is usable", lambda: _check_data_dir(data_dir))
        _become_owner(data_dir)
        opening = "open PostgreSQL" if is_postgresql(ctx.settings) else "open control.db"
        storage = await report.step(opening, lambda: _open_storage(ctx))
        control_db, databases = storage.control, storage.tenants
        slug = f"selftest-{secrets.token_hex(4)}"
        who = cli_who()
        webhook_id: str | None = None
        try:
            tenant = await report.step(
                f"create tenant {slug}",
                lambda: tenants.create_tenant(
                    control_db, data_dir, slug=slug, by=who, now=utc_now()
                ),
            )
            _, key = await report.step(
                "create a read-write key",
                lambda: api_keys.create_key(
                    control_db,
                    tenant_id=tenant["id"],
                    name="selftest",
                    level="read_write",
                    by=who,
                    now=utc_now(),
                ),
            )
            auth = {"Authorization": f"Bearer {key}"}
            async with loopback_receiver() as (receiver, target, ca_pem):
                db = await databases.get(tenant["id"])
                box = _secret_box(data_dir)
                row, secret = await report.step(
                    "subscribe the loopback receiver",
                    lambda: hooks.create_webhook(
                        db,
                        box,
                        GRANT_POLICY,
                        url=target,
                        events=[EVENT],
                        secret=None,
                        enabled=True,
                        description="reliatic selftest",
                        by=who,
                        now=utc_now(),
                    ),
                )
                webhook_id = row["id"]
                expires = format_ts(utc_now() + GRANT_LIFETIME)
                write_grant(data_dir, TargetGrant(row["id"], target, ca_pem, expires))
                asset = await report.step(
                    "POST /api/v1/assets",
                    lambda: expect("POST", "/api/v1/assets", 201, headers=auth, json=_ASSET),
                )
                asset_id = asset["data"]["id"]
                await report.step(
                    "POST /api/v1/inspections",
                    lambda: expect(
                        "POST",
                        "/api/v1/inspections",
                        201,
                        headers=auth,
                        json={**_INSPECTION, "asset_id": asset_id},
                    ),
                )
                action = await report.step(
                    "POST /api/v1/actions",
                    lambda: expect(
                        "POST",
                        "/api/v1/actions",
                        201,
                        headers=auth,
                        json={**_ACTION, "asset_id": asset_id},
                    ),
                )
                path = f"/api/v1/actions/{action['data']['id']}/status"
                await report.step(
                    "PUT action status open -> in_progress",
                    lambda: expect("PUT", path, 200, headers=auth, json={"status": "in_progress"}),
                )
                got = await report.step(
                    "signed webhook arrives and verifies",
                    lambda: _arrival(receiver, secret, slug, db, row["id"]),
                )
                await report.step(
                    "delivery log says succeeded",
                    lambda: _logged(db, row["id"], got["delivery_id"]),
                )
        finally:
            await _clean_up(report, control_db, data_dir, slug, webhook_id)
            await asyncio.to_thread(storage.close)


_ASSET = {
    "tag_number": "SELFTEST-1",
    "name": "Selftest vessel",
    "asset_type": "vessel",
    "material": "SA-516 Gr.70",
    "nominal_thickness_mm": 25.4,
    "required_thickness_mm": 18.2,
}
_INSPECTION = {
    "inspection_type": "ut_scanning",
    "inspection_date": "2026-01-15",
    "inspector_name": "reliatic selftest",
    "coverage_percent": 60,
    "min_measured_thickness_mm": 24.9,
}
_ACTION = {"title": "Selftest action", "priority": "low"}


async def _check_data_dir(data_dir: Path) -> None:
    control = control_file(data_dir)
    if not control.exists():
        hint = "sudo -u reliatic reliatic selftest, or --data-dir DIR"
        raise StepFailed(f"{data_dir} holds no control.db; run as root or {hint}")
    for path in (data_dir, control, data_dir / "tenants", master_key_file(data_dir)):
        if not os.access(path, os.R_OK | (os.W_OK if path.is_dir() else 0)):
            raise StepFailed(
                f"{path} is not accessible to this user; run as root or as the reliatic user"
                " (sudo -u reliatic reliatic selftest)"
            )


async def _open_storage(ctx: CliContext) -> OpenStorage:
    try:
        if is_postgresql(ctx.settings):
            return await asyncio.to_thread(open_storage, ctx.settings)
        return open_storage(ctx.settings)
    except StorageUnusable as exc:
        raise StepFailed(str(exc)) from None


def _secret_box(data_dir: Path) -> SecretBox:
    try:
        return SecretBox.from_file(master_key_file(data_dir))
    except SecretBoxError as exc:
        raise StepFailed(str(exc)) from None


async def _arrival(
    receiver: _Receiver, secret: str, slug: str, db: TenantDb, webhook_id: str
) -> dict[str, Any]:
    """The webhook, verified. While waiting, the delivery log is read: an attempt that
    failed is reported at once with the service's own reason (its retry is a minute away)."""
    deadline = time.monotonic() + DELIVERY_TIMEOUT
    while not receiver.arrived.is_set():
        if time.monotonic() > deadline:
            raise StepFailed(
                f"no webhook within {DELIVERY_TIMEOUT:.0f} s: is the scheduler running"
                " (GET /readyz), and can the service reach 127.0.0.1?"
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(receiver.arrived.wait(), 0.5)
        if receiver.arrived.is_set():
            break
        page = await hooks.list_deliveries(db, webhook_id, status=None, page=PageRequest(1, 10))
        for delivery in page.items:
            if delivery["attempts"] and delivery["last_error"]:
                raise StepFailed(f"the service could not deliver it: {delivery['last_error']}")
    headers, body = receiver.received[0]
    payload = _verify(headers, body, secret, now=time.time())
    if payload.get("type") != EVENT or payload.get("tenant") != slug:
        raise StepFailed(f"unexpected payload: type {payload.get('type')!r}")
    return payload


async def _logged(db: TenantDb, webhook_id: str, delivery_id: str) -> None:
    """The server records an outcome just after the receiver answers: wait a little."""
    for _ in range(100):
        page = await hooks.list_deliveries(db, webhook_id, status=None, page=PageRequest(1, 10))
        found = [d for d in page.items if d["id"] == delivery_id]
        if found and found[0]["status"] == "succeeded":
            return
        await asyncio.sleep(0.1)
    raise StepFailed(f"delivery {delivery_id} is not recorded as succeeded")


async def _clean_up(
    report: Report, control: ControlDb, data_dir: Path, slug: str, webhook_id: str | None
) -> None:
    """However the run ended: the grant, then the tenant with its keys and file."""
    if webhook_id is not None:
        remove_grant(data_dir, webhook_id)
    try:
        await tenants.get_tenant(control, slug)
    except NotFound:
        return  # never made (an earlier step failed)

    async def remove() -> None:
        try:
            await tenants.remove_throwaway_tenant(control, data_dir, slug, now=utc_now())
        except ApiError as exc:
            raise StepFailed(exc.message) from None

    with contextlib.suppress(StepFailed):  # recorded in the report, which decides the exit
        await report.step(f"remove tenant {slug}", remove)
