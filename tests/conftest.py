"""Shared fixtures: a real server on loopback over real SQLite files in a temp dir, or over a
throwaway PostgreSQL cluster with `--backend=postgresql` (tests/pg_cluster.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from reliatic_appliance.app import create_app
from reliatic_appliance.keys import CONTROL_DB
from reliatic_appliance.services import api_keys, tenants
from reliatic_appliance.services.audit import Who
from reliatic_appliance.settings import Settings, load_settings
from reliatic_appliance.storage.layout import initialise
from reliatic_appliance.timefmt import utc_now
from tests import rawsql
from tests.pg_cluster import (  # noqa: F401  (pytest finds hooks and fixtures by name here)
    _backend_cluster,
    _backend_databases,
    backend_env,
    pg_cluster,
    pytest_addoption,
    pytest_collection_modifyitems,
    pytest_configure,
    pytest_report_header,
    pytest_terminal_summary,
)
from tests.webhook_receiver import Receiver

# Generous limits so functional tests never trip the limiter by accident; the rate-limit
# tests build their own settings.
TEST_ENV = {
    "RELIATIC_RATE_LIMIT_DEFAULT_PER_MINUTE": "100000",
    "RELIATIC_RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE": "100000",
}


def make_settings(data_dir: Path, env: dict[str, str] | None = None) -> Settings:
    """Test settings for `data_dir` on the session's backend (a fresh database on PostgreSQL)."""
    return load_settings(
        data_dir=data_dir,
        config_file=None,
        env={**TEST_ENV, **backend_env(data_dir), **(env or {})},
    )


@dataclass
class Api:
    """A client bound to one tenant and one key; `as_key` switches the key."""

    client: TestClient
    tenant: dict[str, Any]
    key: str
    key_id: str

    def headers(self, key: str | None = None, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.key}", **extra}

    async def request(
        self,
        method: str,
        path: str,
        *,
        key: str | None = None,
        headers: dict[str, str] | None = None,
        **kw: Any,
    ) -> ClientResponse:
        return await self.client.request(
            method, path, headers={**self.headers(key), **(headers or {})}, **kw
        )

    async def get(self, path: str, **kw: Any) -> ClientResponse:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, **kw: Any) -> ClientResponse:
        return await self.request("POST", path, **kw)

    async def put(self, path: str, **kw: Any) -> ClientResponse:
        return await self.request("PUT", path, **kw)

    async def delete(self, path: str, **kw: Any) -> ClientResponse:
        return await self.request("DELETE", path, **kw)

    async def new_key(
        self,
        level: str = "read_write",
        scopes: list[str] | None = None,
        tenant: dict[str, Any] | None = None,
        **kw: Any,
    ) -> tuple[str, str]:
        record, key = await api_keys.create_key(
            self.client.app[CONTROL_DB],
            tenant_id=(tenant or self.tenant)["id"],
            name="test key",
            level=level,
            scopes=scopes or [],
            **{"now": utc_now(), "by": Who("test"), **kw},
        )
        return key, record["id"]

    async def new_tenant(self, slug: str) -> dict[str, Any]:
        app = self.client.app
        return await tenants.create_tenant(
            app[CONTROL_DB], app_data_dir(self.client), slug=slug, by=Who("test"), now=utc_now()
        )


def app_data_dir(client: TestClient) -> Path:
    from reliatic_appliance.keys import SETTINGS

    return client.app[SETTINGS].data_dir


@pytest.fixture
async def receiver(aiohttp_server: Callable[..., Awaitable[TestServer]]) -> Receiver:
    """A real local webhook receiver on loopback (tests/webhook_receiver.py)."""
    rec = Receiver()
    server = await aiohttp_server(rec.app())
    rec.base = str(server.make_url("")).rstrip("/")
    return rec


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    initialise(path)
    return path


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    return make_settings(data_dir)


@pytest.fixture
async def client(
    aiohttp_client: Callable[..., Awaitable[TestClient]], settings: Settings
) -> TestClient:
    return await aiohttp_client(create_app(settings))


async def open_api(client: TestClient, scopes: list[str], slug: str = "acme") -> Api:
    """A new tenant with a read-write key that also holds the admin `scopes`."""
    control = client.app[CONTROL_DB]
    tenant = await tenants.create_tenant(
        control, app_data_dir(client), slug=slug, by=Who("test"), now=utc_now()
    )
    record, key = await api_keys.create_key(
        control,
        tenant_id=tenant["id"],
        name="integration",
        level="read_write",
        scopes=scopes,
        by=Who("test"),
        now=utc_now(),
    )
    return Api(client=client, tenant=tenant, key=key, key_id=record["id"])


@pytest.fixture
async def api(client: TestClient) -> Api:
    """Tenant `acme` with a read-write key that may also manage keys."""
    return await open_api(client, ["api_keys:read", "api_keys:write"])


ASSET = {"tag_number": "V-101", "name": "HP Separator", "asset_type": "vessel"}


async def create_asset(api: Api, **fields: Any) -> dict[str, Any]:
    response = await api.post("/api/v1/assets", json={**ASSET, **fields})
    assert response.status == 201, await response.text()
    return (await response.json())["data"]


async def tenant_sql(
    api: Api,
    sql: str,
    params: Sequence[Any] = (),
    *,
    write: bool = False,
    tenant_id: str | None = None,
) -> list[dict[str, Any]]:
    """Raw SQL on a tenant's data (the api's by default) through tests/rawsql.py, on either
    backend: `?` placeholders and no `tenant_id` in the SQL. On PostgreSQL the transaction is
    the server's own (its role, its `app.tenant_id`), so RLS scopes the SQL to the tenant, as
    the tenant's file does on SQLite. A write returns no rows."""
    from reliatic_appliance.keys import TENANT_DBS

    db = await api.client.app[TENANT_DBS].get(tenant_id or api.tenant["id"])
    if write:
        await rawsql.execute(db, sql, tuple(params))
        return []
    return await rawsql.rows(db, sql, tuple(params))


async def insert_row(
    api: Api, table: str, row: dict[str, Any], *, tenant_id: str | None = None
) -> None:
    """One row straight into a tenant table (the api's tenant by default)."""
    from reliatic_appliance.keys import TENANT_DBS

    tenant_id = tenant_id or api.tenant["id"]
    db = await api.client.app[TENANT_DBS].get(tenant_id)
    await rawsql.insert(db, table, row, tenant_id=tenant_id)


async def events_of(api: Api) -> list[dict[str, Any]]:
    """Every event row of the api's tenant, oldest first (data still JSON text)."""
    return await tenant_sql(
        api,
        "SELECT id, type, resource_type, resource_id, data, actor, created_at"
        " FROM events ORDER BY id",
    )
