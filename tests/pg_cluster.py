"""A throwaway PostgreSQL 15 cluster for the test session, and the `--backend` option (issue 15).

`--backend=postgresql` (or env `TEST_BACKEND=postgresql`; not a RELIATIC_* name, since the CLI
refuses unknown ones) runs the suite against PostgreSQL: one cluster per session in a temp dir
(Unix socket only, fsync off), a template database migrated once, and for every data dir a test
uses a fresh database cloned from the template. `backend_env(data_dir)` is the seam the fixtures
and the subprocess helpers use: the RELIATIC_STORAGE_* variables that point a server at that
data dir's database (nothing on SQLite).

The roles are the ones docs/postgresql.md describes (pg-common.md): `reliatic_owner` owns the
tables and runs the migrations (`admin_dsn`); `reliatic_server` is a NOLOGIN group holding the
grants; `reliatic_app`, the server's login role (`dsn`), is its member and owns nothing;
`reliatic_search` (BYPASSRLS, NOLOGIN) owns the asset search function, and only that.

PostgreSQL refuses to run as root: as root the cluster runs as Debian's `postgres` user (via
runuser); otherwise as ourselves. Without the binaries, tests that need the cluster skip with the
reason, or fail under REQUIRE_POSTGRESQL=1 (CI never skips).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

BACKENDS = ("sqlite", "postgresql")
SUPERUSER = "postgres"
OWNER_ROLE = "reliatic_owner"
SERVER_GROUP = "reliatic_server"
APP_ROLE = "reliatic_app"
SEARCH_ROLE = "reliatic_search"
TEMPLATE_DB = "reliatic_template"
# The socket file is named after the port; no TCP listener exists, so any number will do.
PORT = 5432
# In memory when there is a tmpfs: a clone on the shared disk took 300-1000 ms under load,
# on /dev/shm about 20 ms (FILE_COPY; WAL_LOG about 40 ms), measured on this 2-core machine.
BASE_DIR = os.environ.get("PG_CLUSTER_DIR") or (
    "/dev/shm" if os.access("/dev/shm", os.W_OK | os.X_OK) else None
)
DEBIAN_BINDIR = Path("/usr/lib/postgresql/15/bin")


class PostgresMissing(Exception):
    """No usable PostgreSQL binaries here (the message says what was looked for)."""


def find_bindir() -> Path:
    """initdb/pg_ctl: env PG_BINDIR alone if set, else `pg_config --bindir`, then Debian's
    PostgreSQL 15 directory."""
    candidates: list[Path] = []
    if os.environ.get("PG_BINDIR"):
        candidates.append(Path(os.environ["PG_BINDIR"]))
    else:
        pg_config = shutil.which("pg_config")
        if pg_config:
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                out = subprocess.run(
                    [pg_config, "--bindir"], capture_output=True, text=True, check=True, timeout=10
                ).stdout.strip()
                candidates.append(Path(out))
        # libpq-dev's pg_config alone names a bindir without the server in it.
        candidates.append(DEBIAN_BINDIR)
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file():
            return bindir
    looked = ", ".join(str(c) for c in candidates)
    raise PostgresMissing(
        f"PostgreSQL server binaries (initdb, pg_ctl) not found in {looked}; "
        "install postgresql-15 (`make test-deps` does as root)"
    )


def conninfo(host: Path, dbname: str, user: str) -> str:
    """A libpq URI over the Unix socket in `host` (the form `[storage] dsn` takes)."""
    return f"postgresql://{user}@/{dbname}?host={quote(str(host), safe='/')}&port={PORT}"


@dataclass
class Database:
    name: str
    dsn: str  # as the server's login role
    admin_dsn: str  # as the owner role, which migrates


@dataclass
class PgCluster:
    """One running cluster; `start()` makes it, `stop()` removes every trace of it."""

    bindir: Path
    root: Path = field(
        default_factory=lambda: Path(tempfile.mkdtemp(prefix="reliatic-pg-", dir=BASE_DIR))
    )
    clone_seconds: list[float] = field(default_factory=list)
    # fsync and synchronous commit on, as a production server runs (bench/pg_drivers.py).
    durable: bool = False
    _names: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def data(self) -> Path:
        return self.root / "data"

    def _as_owner(self) -> list[str]:
        # initdb and postgres refuse uid 0; Debian's package creates the `postgres` user.
        return ["runuser", "-u", SUPERUSER, "--"] if os.geteuid() == 0 else []

    def _run(self, *args: str) -> None:
        result = subprocess.run(
            [*self._as_owner(), *args], capture_output=True, text=True, timeout=120, check=False
        )
        if result.returncode != 0:
            log = self.root / "log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{args[0]} failed: {result.stdout}{result.stderr}{tail}")

    def dsn(self, dbname: str, user: str = SUPERUSER) -> str:
        return conninfo(self.root, dbname, user)

    def start(self) -> None:
        if os.geteuid() == 0:
            pw = pwd.getpwnam(SUPERUSER)  # KeyError: no such user, reported by the caller
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        self.root.chmod(0o700)
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            SUPERUSER,
            "-E",
            "UTF8",
            # Byte order, as SQLite's BINARY collation sorts: lists come out in the same order.
            "--locale=C",
            "--no-sync",
        )
        options = " ".join(
            [
                "-c listen_addresses=''",  # Unix socket only: nothing on TCP
                f"-k {self.root}",
                f"-p {PORT}",
                # A throwaway cluster: durability buys nothing and costs seconds per test.
                *([] if self.durable else ["-c fsync=off", "-c synchronous_commit=off"]),
                *([] if self.durable else ["-c full_page_writes=off"]),
                "-c max_connections=300",
                # Its segments in the data dir, removed with it (not left in /dev/shm).
                "-c dynamic_shared_memory_type=mmap",
            ]
        )
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "log"),
            "-w",
            "start",
        )
        self._create_roles()

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            if (self.data / "postmaster.pid").exists():
                self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def execute(self, sql: str, params: Any = None, dbname: str = "postgres") -> list[Any]:
        """Run one statement as the superuser (autocommit: CREATE DATABASE needs it)."""
        import psycopg

        with psycopg.connect(self.dsn(dbname), autocommit=True) as conn:
            cur = conn.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def _create_roles(self) -> None:
        self.execute(f"CREATE ROLE {OWNER_ROLE} LOGIN")
        self.execute(f"CREATE ROLE {SERVER_GROUP} NOLOGIN")
        self.execute(
            f"CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE "
            f"IN ROLE {SERVER_GROUP}"
        )
        # The role asset search runs as (migration 0005): the DBA's two statements.
        self.execute(f"CREATE ROLE {SEARCH_ROLE} NOLOGIN BYPASSRLS")
        self.execute(f"GRANT {SEARCH_ROLE} TO {OWNER_ROLE}")
        self.execute(f"CREATE DATABASE {TEMPLATE_DB} OWNER {OWNER_ROLE}")
        migrate_template(self.dsn(TEMPLATE_DB, OWNER_ROLE))
        # CREATE DATABASE ... TEMPLATE refuses while anyone is connected to the template.
        self.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (TEMPLATE_DB,),
        )

    def clone(self) -> Database:
        """A fresh database, a copy of the migrated template, owned by the owner role."""
        name = f"test_{next(self._names)}"
        started = time.perf_counter()
        # FILE_COPY: with fsync off and on tmpfs, copying the files beats WAL-logging every
        # block of the template (PostgreSQL 15's default), 20 against 40 ms; see BASE_DIR.
        self.execute(
            f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB} OWNER {OWNER_ROLE} STRATEGY FILE_COPY"
        )
        self.clone_seconds.append(time.perf_counter() - started)
        return Database(
            name=name, dsn=self.dsn(name, APP_ROLE), admin_dsn=self.dsn(name, OWNER_ROLE)
        )

    def drop(self, database: Database) -> None:
        self.execute(f"DROP DATABASE IF EXISTS {database.name} WITH (FORCE)")


def migrate_template(admin_dsn: str) -> None:
    """Migrate the template once with pg-core's runner, as the owner role.

    Clones then start at the newest schema, and a server's own run at start finds nothing to do.
    """
    from reliatic_appliance.storage.postgresql.migrate import apply_migrations

    apply_migrations(admin_dsn)


@dataclass
class Session:
    """What the fixtures share within one pytest session: the backend, the cluster, and the
    database of each data dir in use (the current test's and wider-scoped fixtures')."""

    backend: str
    cluster: PgCluster | None = None
    missing: str | None = None
    databases: dict[Path, Database] = field(default_factory=dict)
    clone_seconds: list[float] = field(default_factory=list)  # outlives the cluster

    def database_for(self, data_dir: Path) -> Database:
        assert self.cluster is not None, "the PostgreSQL cluster is not running"
        key = data_dir.resolve()
        if key not in self.databases:
            self.databases[key] = self.cluster.clone()
        return self.databases[key]

    def drop_new(self, keep: set[Path]) -> None:
        for key in [k for k in self.databases if k not in keep]:
            database = self.databases.pop(key)
            if self.cluster is not None:
                self.cluster.drop(database)


# The one piece of module state: plain helpers (make_settings, tests/process.py's cli) have no
# fixture to ask, and a pytest session is one process with one backend.
SESSION = Session(backend="sqlite")


def backend_env(data_dir: Path) -> dict[str, str]:
    """The RELIATIC_STORAGE_* variables for `data_dir` on this session's backend ({} on SQLite)."""
    if SESSION.backend != "postgresql":
        return {}
    database = SESSION.database_for(data_dir)
    return {
        "RELIATIC_STORAGE_BACKEND": "postgresql",
        "RELIATIC_STORAGE_DSN": database.dsn,
        "RELIATIC_STORAGE_ADMIN_DSN": database.admin_dsn,
    }


# --- pytest hooks (tests/conftest.py re-exports them) ---------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backend",
        choices=BACKENDS,
        default=None,
        help="storage backend the suite runs on (default: env TEST_BACKEND, else sqlite)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only(reason): only meaningful on SQLite files")
    config.addinivalue_line("markers", "postgresql_only: needs the PostgreSQL backend")
    backend = config.getoption("--backend") or os.environ.get("TEST_BACKEND") or "sqlite"
    if backend not in BACKENDS:
        raise pytest.UsageError(f"TEST_BACKEND={backend!r}: expected one of {', '.join(BACKENDS)}")
    SESSION.backend = backend


def pytest_report_header(config: pytest.Config) -> str:
    return f"storage backend: {SESSION.backend}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if SESSION.backend != "sqlite" and (marker := item.get_closest_marker("sqlite_only")):
            reason = marker.kwargs.get("reason") or (marker.args[0] if marker.args else "")
            item.add_marker(pytest.mark.skip(reason=f"SQLite only: {reason}"))
        if SESSION.backend != "postgresql" and item.get_closest_marker("postgresql_only"):
            item.add_marker(pytest.mark.skip(reason="PostgreSQL only (--backend=postgresql)"))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if SESSION.missing:
        terminalreporter.write_line(
            f"POSTGRESQL TESTS SKIPPED: {SESSION.missing}", red=True, bold=True
        )
    if SESSION.clone_seconds:
        times = sorted(SESSION.clone_seconds)
        terminalreporter.write_line(
            f"postgresql: {len(times)} databases cloned from the template, median "
            f"{times[len(times) // 2] * 1000:.0f} ms, max {times[-1] * 1000:.0f} ms"
        )


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """The session's cluster; skips (or fails under REQUIRE_POSTGRESQL=1) without PostgreSQL."""
    try:
        bindir = find_bindir()
        if os.geteuid() == 0:
            try:
                pwd.getpwnam(SUPERUSER)
            except KeyError:
                raise PostgresMissing(
                    "running as root and there is no `postgres` user to run the cluster as"
                ) from None
    except PostgresMissing as missing:
        SESSION.missing = str(missing)
        if os.environ.get("REQUIRE_POSTGRESQL") == "1":
            pytest.fail(f"REQUIRE_POSTGRESQL=1: {missing}", pytrace=False)
        pytest.skip(str(missing))
    cluster = PgCluster(bindir, clone_seconds=SESSION.clone_seconds)
    try:
        cluster.start()
        SESSION.cluster = cluster
        yield cluster
    finally:
        SESSION.cluster = None
        cluster.stop()


@pytest.fixture(scope="session", autouse=True)
def _backend_cluster(request: pytest.FixtureRequest) -> None:
    """On PostgreSQL: the cluster up before any fixture, module-scoped ones included, asks
    `backend_env` for a database."""
    if SESSION.backend == "postgresql":
        request.getfixturevalue("pg_cluster")


@pytest.fixture(autouse=True)
def _backend_databases(_backend_cluster: None) -> Iterator[None]:
    """On PostgreSQL: the databases of the data dirs this test made, dropped after it. Those
    of wider-scoped fixtures (a module's data dir) live until the cluster goes."""
    before = set(SESSION.databases)
    try:
        yield
    finally:
        SESSION.drop_new(before)
