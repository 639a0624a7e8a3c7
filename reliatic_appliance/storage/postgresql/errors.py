"""psycopg's exceptions -> the project's own (SPEC §11: no service sees a driver's error).

- A unique violation becomes `ports.UniqueViolation(column)`, the column read from the
  constraint's name: every unique constraint or index is named `<table>_<column>_key`
  (PostgreSQL's own default for a one-column UNIQUE; tenant tables name theirs the same
  way although `tenant_id` leads them), so `assets_tag_number_key` means `tag_number`.
- A database that cannot be reached or answer now (connection lost or refused, pool
  exhausted, server shutting down, out of disk, a lock or statement timeout, a
  serialization failure or deadlock) becomes `errors.Unavailable`: a 503, like SQLite's busy
  or full disk (SPEC §8), and the next request may succeed.
- Anything else is a bug in our SQL and stays an exception (a 500 with its request id).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import psycopg
import psycopg_pool
from psycopg import errors as pg

from reliatic_appliance.errors import Unavailable
from reliatic_appliance.ports import UniqueViolation

log = logging.getLogger(__name__)

# SQLSTATE classes that mean "not now" rather than "wrong": 08 connection exception,
# 53 insufficient resources (disk full, out of memory, too many connections), 57 operator
# intervention (shutdown, statement or lock timeout), 58 system error (I/O), 40 transaction
# rollback (serialization failure, deadlock), 55P03 lock not available.
_TRANSIENT_CLASSES = ("08", "53", "57", "58", "40")
_TRANSIENT_STATES = ("55P03",)


def unique_column(exc: pg.UniqueViolation) -> str:
    """The column a `<table>_<column>_key` constraint is named after."""
    name = exc.diag.constraint_name or ""
    table = exc.diag.table_name or ""
    column = name.removeprefix(f"{table}_").removesuffix("_key")
    return column or name


@contextlib.contextmanager
def unique_violation(*columns: str) -> Iterator[None]:
    """Inside a store: a unique violation on one of `columns` becomes
    `ports.UniqueViolation(column)` at once, for a service that catches it inside its unit of
    work (users.py: email taken -> 409). Any other constraint stays the bug it is. (The
    transaction is aborted after it either way: the unit of work can only end.)"""
    try:
        yield
    except pg.UniqueViolation as exc:
        column = unique_column(exc)
        if column in columns:
            raise UniqueViolation(column) from None
        raise


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, psycopg_pool.PoolTimeout):
        return True
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        # Without a SQLSTATE: the connection itself failed.
        state = exc.sqlstate
        return state is None or state.startswith(_TRANSIENT_CLASSES) or state in _TRANSIENT_STATES
    if isinstance(exc, psycopg.Error):
        state = exc.sqlstate or ""
        return state.startswith(_TRANSIENT_CLASSES) or state in _TRANSIENT_STATES
    return False


def translate(exc: BaseException) -> BaseException:
    """The project's error for a psycopg one (or `exc` itself if it is not psycopg's).

    Logged by class only: a message can quote a value of the row, and a connection error
    can name the host and user of the DSN.
    """
    if isinstance(exc, pg.UniqueViolation):
        return UniqueViolation(unique_column(exc))
    if is_transient(exc):
        log.warning("postgresql unavailable: %s", type(exc).__name__)
        return Unavailable()
    return exc
