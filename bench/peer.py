"""The same-work peer (issue 16): what a user would build instead of us, with FastAPI.

A FastAPI + uvicorn[standard] app (uvloop, httptools; bench extra only) serving
`GET /api/v1/assets/{id}` and `GET /api/v1/assets?type=&status=&page=&per_page=` from the
same data dir `reliatic serve` uses, doing the same work per request:

- the API key by its SHA-256 digest in control.db, with a cache of what it resolved;
- a revocation check: `PRAGMA data_version` on control.db, read on every request, drops
  the cache whenever another connection (our server, `reliatic key revoke`) has committed,
  so a revoked key is refused on the next request (as `services/api_keys.py` does);
  `last_used_at` written once a minute per key, like ours;
- a per-key fixed-window rate-limit counter (the project's `FixedWindowLimiter`) and the
  `X-RateLimit-*` headers;
- the row read with apsw (one connection per file: control.db and each tenant's file, no
  other SQLite binding in the process), the pydantic models of the project's schemas
  (`Asset` in `Single`/`Collection`), serialised by pydantic-core;
- the same envelope, `ETag` (SHA-256 of the representation's JSON as sent),
  `X-Request-Id`, `Server`, `Link` and error bodies for a missing or refused key.

The list's `meta.total` is read from the per-(status, type) counts table the tenant file
keeps (migration 0005), as ours does; `--naive-count` makes it a `COUNT(*)` instead.
Not done: the access log and request metrics, which ours keeps for every request (part of
what issue 16 tunes), and conditional requests (If-None-Match, If-Match). Bodies are
byte-identical to ours (tests/test_bench_peer.py).

Run: `python bench/peer.py DATA_DIR PORT [--naive-count]`.
"""

# No `from __future__ import annotations`: FastAPI reads the handlers' annotations at run
# time, and `Auth` below is local to `create_app`.
import argparse
import hashlib
import re
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

import apsw
import pydantic_core
import uvicorn
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reliatic_appliance.api.ratelimit import FixedWindowLimiter, RateDecision
from reliatic_appliance.api.request_ids import RequestIds
from reliatic_appliance.domain.permissions import grants
from reliatic_appliance.domain.vocabulary import AssetStatus, AssetType
from reliatic_appliance.schemas.assets import Asset
from reliatic_appliance.schemas.common import Collection, ListMeta, Single, SingleMeta

COLUMNS = tuple(Asset.model_fields)
SELECT = f"SELECT {', '.join(COLUMNS)} FROM assets"
KEY_PATTERN = re.compile(r"^rl_live_[A-Za-z0-9_-]{32,128}$")
BEARER = re.compile(r"^Bearer +(\S+) *$")
SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
DEFAULT_PER_MINUTE = 100  # `[rate_limit] default_per_minute`, SPEC §4
LAST_USED_RESOLUTION = timedelta(seconds=60)
MAX_CACHED_KEYS = 1024
JSON = "application/json"
SingleAsset = Single[Asset]
AssetPage = Collection[Asset]


@dataclass
class Key:
    key_id: str
    tenant_id: str
    permissions: frozenset[str]
    per_minute: int
    expires_at: datetime | None
    last_used_at: datetime | None


class Refused(Exception):
    """An error answered in the API's error shape (SPEC §3)."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str]) -> None:
        self.status, self.code, self.message, self.headers = status, code, message, headers


def _connect(path: Path) -> apsw.Connection:
    conn = apsw.Connection(str(path), flags=apsw.SQLITE_OPEN_READWRITE)
    conn.set_busy_timeout(5000)
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA mmap_size=1073741824")  # as ours maps its read connections
    return conn


def _ts(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


class Store:
    """control.db and the tenant files, one apsw connection each, on the event loop."""

    def __init__(self, data_dir: Path, *, naive_count: bool) -> None:
        self.data_dir = data_dir
        self.control = _connect(data_dir / "control.db")
        self.tenants: dict[str, apsw.Connection] = {}
        self.keys: dict[bytes, Key | None] = {}
        self.version = -1
        self.naive_count = naive_count

    def key(self, digest: bytes) -> Key | None:
        version = self.control.execute("PRAGMA data_version").fetchone()[0]
        if version != self.version:
            self.keys.clear()  # control.db changed elsewhere: a key may have been revoked
            self.version = version
        if digest in self.keys:
            return self.keys[digest]
        row = self.control.execute(
            "SELECT k.id, k.tenant_id, k.permissions, k.rate_limit_per_minute, k.expires_at,"
            " k.last_used_at, k.revoked_at, t.disabled_at, t.rate_limit_per_minute"
            " FROM api_keys k JOIN tenants t ON t.id = k.tenant_id WHERE k.key_hash = ?",
            (digest,),
        ).fetchone()
        found = None
        if row is not None and row[6] is None and row[7] is None:
            found = Key(
                key_id=row[0],
                tenant_id=row[1],
                permissions=frozenset(pydantic_core.from_json(row[2])),
                per_minute=row[3] or row[8] or DEFAULT_PER_MINUTE,
                expires_at=_ts(row[4]),
                last_used_at=_ts(row[5]),
            )
        if len(self.keys) >= MAX_CACHED_KEYS:
            self.keys.clear()
        self.keys[digest] = found
        return found

    def touch(self, key: Key, now: datetime) -> None:
        stamp = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        self.control.execute(
            "UPDATE api_keys SET last_used_at = ? WHERE id = ?", (stamp, key.key_id)
        )
        key.last_used_at = now

    def tenant(self, tenant_id: str) -> apsw.Connection:
        conn = self.tenants.get(tenant_id)
        if conn is None:
            if not re.match(r"^ten_[0-9A-Z]{26}$", tenant_id):
                raise ValueError("not a tenant id")
            conn = self.tenants[tenant_id] = _connect(self.data_dir / "tenants" / f"{tenant_id}.db")
        return conn

    def count(self, conn: apsw.Connection, asset_type: str | None, status: str | None) -> int:
        if self.naive_count:
            where, params = _where(asset_type, status)
            return int(conn.execute(f"SELECT COUNT(*) FROM assets{where}", params).fetchone()[0])
        return int(
            conn.execute(
                "SELECT COALESCE(SUM(n), 0) FROM asset_counts"
                " WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR asset_type = ?2)",
                (status, asset_type),
            ).fetchone()[0]
        )


def _where(asset_type: str | None, status: str | None) -> tuple[str, list[str]]:
    clauses, params = [], []
    if asset_type is not None:
        clauses.append("asset_type = ?")
        params.append(asset_type)
    if status is not None:
        clauses.append("status = ?")
        params.append(status)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


@dataclass
class Caller:
    key: Key
    request_id: str
    decision: RateDecision

    def headers(self, **extra: str) -> dict[str, str]:
        headers = {**extra, "Server": "Reliatic", "X-Request-Id": self.request_id}
        self.decision.stamp(headers)
        return headers


def create_app(data_dir: Path, *, naive_count: bool = False) -> FastAPI:
    store = Store(data_dir, naive_count=naive_count)
    limiter = FixedWindowLimiter()
    addresses = FixedWindowLimiter()
    request_ids = RequestIds()
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    def request_id_of(request: Request) -> str:
        sent = request.headers.get("x-request-id", "")
        return sent if SANE_REQUEST_ID.match(sent) else request_ids.next()

    def refuse(request: Request, request_id: str, status: int, code: str, message: str) -> Refused:
        # A failed authentication counts against the client's address (SPEC §4), as ours.
        client = request.client.host if request.client else "unknown"
        decision = addresses.hit(client, 60)
        headers = {"Server": "Reliatic", "X-Request-Id": request_id}
        decision.stamp(headers)
        return Refused(status, code, message, headers)

    # `async`: FastAPI runs a plain `def` dependency in its thread pool, a thread hop on
    # every request (and the apsw connections belong to the event loop's thread).
    async def caller(request: Request) -> Caller:
        request_id = request_id_of(request)
        header = request.headers.get("authorization")
        if header is None:
            raise refuse(
                request,
                request_id,
                401,
                "unauthorized",
                "Authentication required: send 'Authorization: Bearer <API key>'.",
            )
        match = BEARER.match(header)
        now = datetime.now(UTC)
        key = None
        if match is not None and KEY_PATTERN.match(match[1]):
            key = store.key(hashlib.sha256(match[1].encode("ascii")).digest())
        if key is None or (key.expires_at is not None and key.expires_at <= now):
            raise refuse(
                request,
                request_id,
                401,
                "invalid_api_key",
                "The provided API key is invalid or has been revoked.",
            )
        if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
            store.touch(key, now)
        if not grants(key.permissions, "assets:read"):
            raise Refused(
                403,
                "forbidden",
                "API key lacks required permission: assets:read",
                {"Server": "Reliatic", "X-Request-Id": request_id},
            )
        decision = limiter.hit(key.key_id, key.per_minute)
        if not decision.allowed:
            raise Refused(
                429,
                "rate_limited",
                "Rate limit exceeded.",
                Caller(key, request_id, decision).headers(),
            )
        return Caller(key, request_id, decision)

    Auth = Annotated[Caller, Depends(caller)]

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> Response:
        body = {"error": exc.code, "message": exc.message, "details": []}
        return Response(pydantic_core.to_json(body), exc.status, exc.headers, JSON)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        details = [{"field": str(e["loc"][-1]), "message": str(e["msg"])} for e in exc.errors()]
        body = {
            "error": "validation_error",
            "message": "The request is not valid.",
            "details": details,
        }
        headers = {"Server": "Reliatic", "X-Request-Id": request_id_of(request)}
        return Response(pydantic_core.to_json(body), 400, headers, JSON)

    def stamp() -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

    @app.get("/healthz")
    async def healthz() -> Response:
        return Response(b'{"status":"ok"}', 200, {"Server": "Reliatic"}, JSON)

    @app.get("/api/v1/assets/{asset_id}")
    async def get_asset(asset_id: str, who: Auth) -> Response:
        conn = store.tenant(who.key.tenant_id)
        row = conn.execute(SELECT + " WHERE id = ?", (asset_id,)).fetchone()
        if row is None:
            body = {"error": "not_found", "message": f"Asset {asset_id} not found.", "details": []}
            return Response(pydantic_core.to_json(body), 404, who.headers(), JSON)
        data = dict(zip(COLUMNS, row, strict=True))
        asset = Asset.model_validate(data)
        body = SingleAsset(data=asset, meta=SingleMeta(timestamp=stamp())).model_dump_json()
        # The ETag of the representation: its JSON as sent (the row's order), hashed.
        etag = '"' + hashlib.sha256(pydantic_core.to_json(data)).hexdigest()[:40] + '"'
        return Response(body, 200, who.headers(ETag=etag), JSON)

    @app.get("/api/v1/assets")
    async def list_assets(
        request: Request,
        who: Auth,
        type: AssetType | None = None,  # the API's parameter name
        status: AssetStatus | None = None,
        page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
        per_page: Annotated[int, Query(ge=1, le=100)] = 25,
    ) -> Response:
        conn = store.tenant(who.key.tenant_id)
        asset_type = type.value if type is not None else None
        state = status.value if status is not None else None
        where, params = _where(asset_type, state)
        # One snapshot for the count and the page, as ours reads them.
        conn.execute("BEGIN")
        try:
            total = store.count(conn, asset_type, state)
            rows = conn.execute(
                f"{SELECT}{where} ORDER BY id LIMIT ? OFFSET ?",
                (*params, per_page, (page - 1) * per_page),
            ).fetchall()
        finally:
            conn.execute("COMMIT")
        total_pages = -(-total // per_page)
        body = AssetPage(
            data=[Asset.model_validate(dict(zip(COLUMNS, r, strict=True))) for r in rows],
            meta=ListMeta(page=page, per_page=per_page, total=total, total_pages=total_pages),
        ).model_dump_json()
        link = _link(request, page, total_pages)
        return Response(body, 200, who.headers(Link=link), JSON)

    return app


def _link(request: Request, current: int, total_pages: int) -> str:
    """RFC 8288 `first`, `prev`, `next`, `last`, the request's query with `page` last."""
    last = max(total_pages, 1)
    targets = {"first": 1, "last": last}
    if current > 1:
        targets["prev"] = min(current - 1, last)
    if current < total_pages:
        targets["next"] = current + 1
    others = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]
    prefix = f"{request.url.path}?{urlencode([*others, ('page', '')])}"
    return ", ".join(
        f'<{prefix}{targets[rel]}>; rel="{rel}"'
        for rel in ("first", "prev", "next", "last")
        if rel in targets
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="The same-work FastAPI peer (issue 16)")
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("port", type=int)
    parser.add_argument("--naive-count", action="store_true", help="meta.total by COUNT(*)")
    args = parser.parse_args()
    app = create_app(args.data_dir, naive_count=args.naive_count)
    # uvloop and httptools (uvicorn[standard]), access log off, no `Server: uvicorn`: ours
    # sends `Server: Reliatic`, set above.
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        server_header=False,
    )


if __name__ == "__main__":
    main()
