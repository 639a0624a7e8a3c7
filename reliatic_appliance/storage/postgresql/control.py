"""SQL for the control data on PostgreSQL: tenants and API keys (storage/control.py's port)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from psycopg import sql
from psycopg.types.json import Jsonb

from reliatic_appliance.ports import Row
from reliatic_appliance.storage.postgresql.database import Cursor, Memo

T = TypeVar("T")

_KEY_COLUMNS = (
    "id, tenant_id, name, prefix, level, permissions, rate_limit_per_minute, created_by,"
    " created_at, expires_at, last_used_at, revoked_at"
)
_TENANT_COLUMNS = "id, slug, name, rate_limit_per_minute, disabled_at, created_at, updated_at"


def _count(cur: Cursor, query: str, params: tuple[Any, ...]) -> int:
    row = cur.execute(query, params).fetchone()
    assert row is not None
    return int(next(iter(row.values())))


class PgControl:
    """PostgreSQL: `ports.ControlStore`. `memo` is given to read transactions only (a write
    could remember what it then rolls back)."""

    def __init__(self, cur: Cursor, memo: Memo | None = None) -> None:
        self._cur = cur
        self._memo = memo

    def insert_tenant(self, tenant: Row) -> None:
        self._cur.execute(
            "INSERT INTO tenants (id, slug, name, rate_limit_per_minute, disabled_at, created_at,"
            " updated_at) VALUES (%(id)s, %(slug)s, %(name)s, %(rate_limit_per_minute)s, NULL,"
            " %(created_at)s, %(created_at)s)",
            tenant,
        )

    def tenant_by_slug(self, slug: str) -> Row | None:
        return self._cur.execute(
            f"SELECT {_TENANT_COLUMNS} FROM tenants WHERE slug = %s", (slug,)
        ).fetchone()

    def tenant_by_id(self, tenant_id: str) -> Row | None:
        return self._cur.execute(
            f"SELECT {_TENANT_COLUMNS} FROM tenants WHERE id = %s", (tenant_id,)
        ).fetchone()

    def list_tenants(self) -> list[Row]:
        return self._cur.execute(f"SELECT {_TENANT_COLUMNS} FROM tenants ORDER BY slug").fetchall()

    def disable_tenant(self, tenant_id: str, when: str) -> None:
        self._cur.execute(
            "UPDATE tenants SET disabled_at = %s, updated_at = %s"
            " WHERE id = %s AND disabled_at IS NULL",
            (when, when, tenant_id),
        )

    def enable_tenant(self, tenant_id: str, when: str) -> None:
        self._cur.execute(
            "UPDATE tenants SET disabled_at = NULL, updated_at = %s"
            " WHERE id = %s AND disabled_at IS NOT NULL",
            (when, tenant_id),
        )

    def delete_tenant(self, tenant_id: str) -> None:
        """The tenant's row and every control row that refers to it (keys, users and their
        sessions, invitations, audit chain); its tenant rows are the tenant directory's
        (`PgTenants.remove_tenant_storage`). The referring tables are read from the catalog,
        so a table added later cannot make this fail or be forgotten."""
        cur = self._cur
        # Tables that refer to tenants under row security see this tenant only.
        cur.execute("SELECT set_config('app.tenant_id', %s, true)", (tenant_id,))
        cur.execute(
            "DELETE FROM sessions WHERE user_id IN (SELECT id FROM users WHERE tenant_id = %s)",
            (tenant_id,),
        )
        referring = cur.execute(
            "SELECT c.conrelid::regclass::text AS tbl, a.attname AS col"
            " FROM pg_constraint c JOIN pg_attribute a"
            " ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]"
            " WHERE c.contype = 'f' AND c.confrelid = 'tenants'::regclass"
            " ORDER BY (c.conrelid = 'users'::regclass), 1"
        ).fetchall()
        for row in referring:
            # Names from the catalog, quoted as identifiers: never user input.
            cur.execute(
                sql.SQL("DELETE FROM {} WHERE {} = %s").format(
                    sql.Identifier(row["tbl"]), sql.Identifier(row["col"])
                ),
                (tenant_id,),
            )
        cur.execute("DELETE FROM tenants WHERE id = %s", (tenant_id,))

    def insert_key(self, key: Row, key_hash: bytes) -> None:
        self._cur.execute(
            "INSERT INTO api_keys (id, tenant_id, name, prefix, key_hash, level, permissions,"
            " rate_limit_per_minute, created_by, created_at, expires_at) VALUES (%s, %s, %s, %s,"
            " %s, %s, %s, %s, %s, %s, %s)",
            (
                key["id"],
                key["tenant_id"],
                key["name"],
                key["prefix"],
                key_hash,
                key["level"],
                Jsonb(key["permissions"]),
                key["rate_limit_per_minute"],
                key["created_by"],
                key["created_at"],
                key["expires_at"],
            ),
        )

    def key_for_auth(self, key_hash: bytes) -> Row | None:
        """The key with this digest, with what authentication needs of its tenant."""
        return self._cur.execute(
            "SELECT k.id, k.tenant_id, k.level, k.permissions, k.rate_limit_per_minute,"
            " k.expires_at, k.last_used_at, k.revoked_at, t.slug AS tenant_slug,"
            " t.disabled_at AS tenant_disabled_at, t.rate_limit_per_minute AS tenant_rate_limit"
            " FROM api_keys k JOIN tenants t ON t.id = k.tenant_id WHERE k.key_hash = %s",
            (key_hash,),
        ).fetchone()

    def key_by_id(self, key_id: str, tenant_id: str | None = None) -> Row | None:
        if tenant_id is None:
            return self._cur.execute(
                f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE id = %s", (key_id,)
            ).fetchone()
        return self._cur.execute(
            f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE id = %s AND tenant_id = %s",
            (key_id, tenant_id),
        ).fetchone()

    def count_keys(self, tenant_id: str) -> int:
        return _count(self._cur, "SELECT count(*) FROM api_keys WHERE tenant_id = %s", (tenant_id,))

    def list_keys(self, tenant_id: str, limit: int, offset: int) -> list[Row]:
        return self._cur.execute(
            f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE tenant_id = %s"
            " ORDER BY id LIMIT %s OFFSET %s",
            (tenant_id, limit, offset),
        ).fetchall()

    def revoke_key(self, key_id: str, when: str) -> bool:
        """Set revoked_at once; return False when the key was already revoked."""
        self._cur.execute(
            "UPDATE api_keys SET revoked_at = %s WHERE id = %s AND revoked_at IS NULL",
            (when, key_id),
        )
        return self._cur.rowcount > 0

    def remembered(self, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
        """`compute()`, reused while `control_version` has not moved (0001_control.sql says
        why a version row): a revocation through any node is seen on the next request.

        The version is read before `compute` runs, so a commit in between is at worst
        remembered under the older version, which the next request sees has moved."""
        if self._memo is None:
            return compute()
        version = _count(self._cur, "SELECT version FROM control_version WHERE only_row", ())
        hit, value = self._memo.get(version, key)
        if hit:
            return cast(T, value)  # stored by this method for `key`: a T
        value = compute()
        self._memo.put(version, key, value)
        return value

    def touch_key(self, key_id: str, when: str) -> None:
        self._cur.execute("UPDATE api_keys SET last_used_at = %s WHERE id = %s", (when, key_id))
