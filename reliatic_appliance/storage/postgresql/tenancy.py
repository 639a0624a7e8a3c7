"""The PostgreSQL backend opened for the server or a command: one pool, the control data, and
the only way from a tenant id to its data (`PgTenants.get`, SPEC §1).

On SQLite a tenant is a file; here every tenant's rows share the tables and a tenant's
`PgDatabase` is the pool plus its id, which every transaction sets as `app.tenant_id` for
row level security. So there is nothing to create for a new tenant, and removing one
(`reliatic selftest`'s throwaway tenant) deletes its rows from every tenant table.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection
from dataclasses import dataclass

import psycopg
from psycopg import sql

from reliatic_appliance.errors import Unavailable
from reliatic_appliance.storage.postgresql.database import Cursor, Memo, PgDatabase, PgPool
from reliatic_appliance.storage.postgresql.migrate import SchemaTooNew, apply_migrations
from reliatic_appliance.storage.postgresql.transactions import PgControlTx, PgTenantTx
from reliatic_appliance.storage.sqlite import CommitObserver

log = logging.getLogger(__name__)

# As storage/tenancy.py: tenant ids are ours (`ten_` + base32); anything else is refused.
_TENANT_ID = re.compile(r"^ten_[0-9A-Z]{26}$")


class ServerRoleRefused(Exception):
    """The role of `[storage] dsn` could read past row level security (SPEC §11)."""


class PgControlDatabase(PgDatabase[PgControlTx]):
    """`ports.ControlDb` on PostgreSQL. Its reads remember what authentication looked up
    for as long as `control_version` stays put (storage/postgresql/control.py)."""

    def __init__(self, pool: PgPool, *, on_commit: CommitObserver | None = None) -> None:
        memo = Memo()
        super().__init__(
            pool,
            PgControlTx,
            read_handle=lambda cur: PgControlTx(cur, memo),
            on_commit=on_commit,
        )

    async def provision_tenant(self, tenant_id: str) -> None:
        """Nothing to make: one schema holds every tenant."""
        _check_id(tenant_id)

    async def discard_tenant(self, tenant_id: str) -> None:
        """Delete the tenant's rows from every tenant table, in one transaction."""
        _check_id(tenant_id)
        db = PgDatabase(self.pool, lambda cur: PgTenantTx(cur, tenant_id), tenant_id=tenant_id)
        await db.write(lambda tx: _delete_tenant_rows(tx.cur, tenant_id))


def _check_id(tenant_id: str) -> None:
    if not _TENANT_ID.match(tenant_id):
        raise ValueError(f"not a tenant id: {tenant_id!r}")


def _delete_tenant_rows(cur: Cursor, tenant_id: str) -> None:
    """Every table under row security with a tenant_id column, children before parents."""
    tables = {
        row["tbl"]
        for row in cur.execute(
            "SELECT c.relname AS tbl FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id'"
            " WHERE c.relkind IN ('r', 'p') AND c.relrowsecurity AND n.nspname = current_schema()"
        ).fetchall()
    }
    refers: dict[str, set[str]] = {name: set() for name in tables}  # parent -> its children
    for row in cur.execute(
        "SELECT conrelid::regclass::text AS child, confrelid::regclass::text AS parent"
        " FROM pg_constraint WHERE contype = 'f'"
    ).fetchall():
        if row["parent"] in tables and row["child"] in tables and row["child"] != row["parent"]:
            refers[row["parent"]].add(row["child"])
    done: set[str] = set()
    while len(done) < len(tables):
        ready = sorted(t for t in tables - done if refers[t] <= done)
        if not ready:
            raise RuntimeError(f"foreign keys form a cycle among {sorted(tables - done)}")
        for table in ready:
            # A name from the catalog, quoted: never input. `WHERE tenant_id` as well as the
            # policy, which already limits the DELETE to this tenant.
            cur.execute(
                sql.SQL("DELETE FROM {} WHERE tenant_id = %s").format(sql.Identifier(table)),
                (tenant_id,),
            )
            done.add(table)


class PgTenants:
    """`ports.TenantDirectory` on PostgreSQL: one `PgDatabase` per tenant, on the shared pool."""

    def __init__(self, pool: PgPool, *, on_commit: CommitObserver | None = None) -> None:
        self._pool = pool
        self._on_commit = on_commit
        self._open: dict[str, PgDatabase[PgTenantTx]] = {}

    async def get(self, tenant_id: str) -> PgDatabase[PgTenantTx]:
        db = self._open.get(tenant_id)
        if db is None:
            _check_id(tenant_id)
            db = PgDatabase(
                self._pool,
                lambda cur: PgTenantTx(cur, tenant_id),
                tenant_id=tenant_id,
                on_commit=self._on_commit,
            )
            self._open[tenant_id] = db
        return db

    def opened(self) -> dict[str, PgDatabase[PgTenantTx]]:
        return dict(self._open)

    def close_removed(self, tenant_ids: Collection[str]) -> None:
        for tenant_id in tenant_ids:
            self._open.pop(tenant_id, None)

    def close(self) -> None:
        self._open.clear()


def refusal(exc: BaseException) -> str | None:
    """One line for an operator on why the database could not be opened; None: a bug.

    psycopg's message names host, port and user at most, never the password; the first line
    is enough (the rest is libpq's context)."""
    if isinstance(exc, ServerRoleRefused | SchemaTooNew):
        return str(exc)
    if isinstance(exc, Unavailable):
        cause = exc.__cause__ or exc.__context__
        detail = _first_line(cause) if cause is not None else str(exc)
        return f"cannot connect to PostgreSQL ([storage] dsn): {detail}"
    if isinstance(exc, psycopg.Error):
        hint = exc.diag.message_hint if exc.diag else None
        return (
            f"cannot migrate the PostgreSQL database ([storage] admin_dsn): {_first_line(exc)}"
            + (f" ({hint})" if hint else "")
        )
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@dataclass
class PgStorage:
    """What `open_postgresql` hands the server or a command; `close()` ends the pool."""

    pool: PgPool
    control: PgControlDatabase
    tenants: PgTenants

    def close(self) -> None:
        self.tenants.close()
        self.pool.close()


def open_postgresql(
    dsn: str,
    admin_dsn: str | None,
    *,
    timeout_s: float = 5.0,
    max_size: int = 10,
    control_observer: CommitObserver | None = None,
    tenant_observer: CommitObserver | None = None,
) -> PgStorage:
    """Migrate (as the admin role, under the migration lock), then open the server's pool.

    Blocking: call it off the event loop. Refuses a server role that is a superuser or has
    BYPASSRLS, for which row level security would hold nothing back.
    """
    if admin_dsn is None:
        log.warning(
            "[storage] admin_dsn is not set: migrating as the server's role, which then owns"
            " the tables (docs/postgresql.md recommends a separate owner)"
        )
    apply_migrations(admin_dsn or dsn)
    # One plain connection first: a wrong password or host fails here with libpq's reason
    # (the pool would only retry until its timeout), and the role is checked once.
    try:
        with psycopg.connect(dsn, connect_timeout=max(2, int(timeout_s))) as conn:
            row = conn.execute(
                "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
            ).fetchone()
    except psycopg.OperationalError as exc:
        raise Unavailable("The PostgreSQL database cannot be reached.") from exc
    if row is None or row[0] or row[1]:
        raise ServerRoleRefused(
            "the role of [storage] dsn is a superuser or has BYPASSRLS, so row level"
            " security would not isolate tenants; connect as a member of reliatic_server"
            " (docs/postgresql.md)"
        )
    pool = PgPool(dsn, timeout_s=timeout_s, max_size=max_size)
    pool.open()
    return PgStorage(
        pool,
        PgControlDatabase(pool, on_commit=control_observer),
        PgTenants(pool, on_commit=tenant_observer),
    )
