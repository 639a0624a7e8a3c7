"""Which backend holds the data (`[storage] backend`, SPEC §11), opened for the server or a
command: the control database and the tenant directory, and how to close them.

The PostgreSQL backend is imported only when chosen: psycopg is an optional extra, and a
plant on SQLite never loads it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from reliatic_appliance.ports import ControlDb, TenantDirectory
from reliatic_appliance.settings import Settings
from reliatic_appliance.storage.sqlite import CommitObserver
from reliatic_appliance.storage.tenancy import TenantDatabases, open_control


class StorageUnusable(Exception):
    """The configured database cannot be used (unreachable, refused, or a newer schema): the
    message says what, in one line, and never holds a DSN."""


# What `reliatic backup`, `restore` and `check` say on PostgreSQL: they work on the data dir's
# SQLite files; a PostgreSQL database is backed up and checked with its own tools.
POSTGRESQL_FILE_COMMAND = (
    "'reliatic {command}' works on the SQLite files of a data dir; with [storage] backend ="
    ' "postgresql" use pg_dump / pg_restore (and amcheck) as docs/postgresql.md shows'
)


@dataclass
class OpenStorage:
    control: ControlDb
    tenants: TenantDirectory
    close: Callable[[], None]


def is_postgresql(settings: Settings) -> bool:
    return settings.storage.backend == "postgresql"


def open_storage(
    settings: Settings,
    *,
    control_observer: CommitObserver | None = None,
    tenant_observer: CommitObserver | None = None,
) -> OpenStorage:
    """Open (and migrate) the configured backend. Blocking on PostgreSQL (it connects and
    migrates): call it off the event loop there. The observers count commits for /metrics
    (on PostgreSQL each write transaction is its own commit, a group of one)."""
    storage = settings.storage
    if is_postgresql(settings):
        # Here, not at the top: the optional extra (module doc).
        from reliatic_appliance.storage.postgresql.tenancy import open_postgresql, refusal

        assert storage.dsn is not None  # settings refuse postgresql without a dsn
        timeout_s = storage.busy_timeout_ms / 1000
        try:
            pg = open_postgresql(
                storage.dsn,
                storage.admin_dsn,
                timeout_s=timeout_s,
                max_size=storage.pool_size,
                control_observer=control_observer,
                tenant_observer=tenant_observer,
            )
        except Exception as exc:
            reason = refusal(exc)
            if reason is None:
                raise
            raise StorageUnusable(reason) from exc
        return OpenStorage(pg.control, pg.tenants, pg.close)
    control = open_control(
        settings.data_dir, busy_timeout_ms=storage.busy_timeout_ms, on_commit=control_observer
    )
    tenants = TenantDatabases(
        settings.data_dir, busy_timeout_ms=storage.busy_timeout_ms, on_commit=tenant_observer
    )

    def close() -> None:
        tenants.close()
        control.close()

    return OpenStorage(control, tenants, close)
