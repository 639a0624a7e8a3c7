"""SQL for control.db: tenants and API keys."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import apsw

from reliatic_appliance.ports import Row
from reliatic_appliance.storage import snapshot
from reliatic_appliance.storage.sqlite import scalar

T = TypeVar("T")

_KEY_COLUMNS = (
    "id, tenant_id, name, prefix, level, permissions, rate_limit_per_minute, created_by,"
    " created_at, expires_at, last_used_at, revoked_at"
)


def _key_row(row: Row | None) -> Row | None:
    if row is not None:
        row["permissions"] = json.loads(row["permissions"])
    return row


# -- tenants -----------------------------------------------------------------------------


# -- API keys ----------------------------------------------------------------------------


class SqliteControl:
    """SQLite: tenants and API keys (control.db)."""

    def __init__(self, conn: apsw.Connection) -> None:
        self._conn = conn

    def insert_tenant(self, tenant: Row) -> None:
        self._conn.execute(
            "INSERT INTO tenants (id, slug, name, rate_limit_per_minute, disabled_at, created_at,"
            " updated_at) VALUES (:id, :slug, :name, :rate_limit_per_minute, NULL, :created_at,"
            " :created_at)",
            tenant,
        )

    def tenant_by_slug(self, slug: str) -> Row | None:
        return self._conn.execute("SELECT * FROM tenants WHERE slug = ?", (slug,)).fetchone()

    def tenant_by_id(self, tenant_id: str) -> Row | None:
        return self._conn.execute("SELECT * FROM tenants WHERE id = ?", (tenant_id,)).fetchone()

    def list_tenants(self) -> list[Row]:
        return list(self._conn.execute("SELECT * FROM tenants ORDER BY slug"))

    def disable_tenant(self, tenant_id: str, when: str) -> None:
        self._conn.execute(
            "UPDATE tenants SET disabled_at = ?, updated_at = ?"
            " WHERE id = ? AND disabled_at IS NULL",
            (when, when, tenant_id),
        )

    def enable_tenant(self, tenant_id: str, when: str) -> None:
        self._conn.execute(
            "UPDATE tenants SET disabled_at = NULL, updated_at = ?"
            " WHERE id = ? AND disabled_at IS NOT NULL",
            (when, tenant_id),
        )

    def delete_tenant(self, tenant_id: str) -> None:
        """The tenant's row and every row that refers to it (keys, audit chain, ...); its
        file is the caller's. The referring tables are read from the schema, so a table
        added later cannot make this fail or be forgotten."""
        referring: list[Row] = list(
            self._conn.execute(
                'SELECT m.name AS tbl, f."from" AS col FROM sqlite_schema AS m,'
                " pragma_foreign_key_list(m.name) AS f"
                " WHERE m.type = 'table' AND f.\"table\" = 'tenants'"
            )
        )
        for row in referring:
            table, column = row["tbl"], row["col"]
            # Names from the schema itself, quoted: never user input.
            self._conn.execute(f'DELETE FROM "{table}" WHERE "{column}" = ?', (tenant_id,))
        self._conn.execute("DELETE FROM tenants WHERE id = ?", (tenant_id,))

    def insert_key(self, key: Row, key_hash: bytes) -> None:
        self._conn.execute(
            "INSERT INTO api_keys (id, tenant_id, name, prefix, key_hash, level, permissions,"
            " rate_limit_per_minute, created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?,"
            " ?, ?, ?, ?, ?)",
            (
                key["id"],
                key["tenant_id"],
                key["name"],
                key["prefix"],
                key_hash,
                key["level"],
                json.dumps(key["permissions"]),
                key["rate_limit_per_minute"],
                key["created_by"],
                key["created_at"],
                key["expires_at"],
            ),
        )

    def key_for_auth(self, key_hash: bytes) -> Row | None:
        """The key with this digest, with what authentication needs of its tenant.

        Asked on a request whose key is not yet remembered for control.db's current snapshot
        (`services.api_keys.authenticate` keeps what it builds from this row).
        """
        row = self._conn.execute(
            "SELECT k.id, k.tenant_id, k.level, k.permissions, k.rate_limit_per_minute,"
            " k.expires_at, k.last_used_at, k.revoked_at, t.slug AS tenant_slug,"
            " t.disabled_at AS tenant_disabled_at, t.rate_limit_per_minute AS tenant_rate_limit"
            " FROM api_keys k JOIN tenants t ON t.id = k.tenant_id WHERE k.key_hash = ?",
            (key_hash,),
        ).fetchone()
        return _key_row(row)

    def key_by_id(self, key_id: str, tenant_id: str | None = None) -> Row | None:
        if tenant_id is None:
            row = self._conn.execute(f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE id = ?", (key_id,))
        else:
            row = self._conn.execute(
                f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE id = ? AND tenant_id = ?",
                (key_id, tenant_id),
            )
        return _key_row(row.fetchone())

    def count_keys(self, tenant_id: str) -> int:
        return int(
            scalar(self._conn, "SELECT COUNT(*) FROM api_keys WHERE tenant_id = ?", (tenant_id,))
        )

    def list_keys(self, tenant_id: str, limit: int, offset: int) -> list[Row]:
        rows = self._conn.execute(
            f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE tenant_id = ? ORDER BY id LIMIT ? OFFSET ?",
            (tenant_id, limit, offset),
        )
        return [r for r in (_key_row(row) for row in rows) if r is not None]

    def revoke_key(self, key_id: str, when: str) -> bool:
        """Set revoked_at once; return False when the key was already revoked."""
        self._conn.execute(
            "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (when, key_id)
        )
        return self._conn.changes() > 0

    def remembered(self, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
        return snapshot.remembered(self._conn, key, compute)

    def touch_key(self, key_id: str, when: str) -> None:
        self._conn.execute("UPDATE api_keys SET last_used_at = ? WHERE id = ?", (when, key_id))
