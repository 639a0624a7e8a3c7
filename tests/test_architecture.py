"""The layering of STYLE.md, checked on every run: api -> services -> storage; domain pure;
SQL and database drivers only under storage/; the services reach data only through the
storage interface (`ports/`, SPEC §11), and the scheduler only through the services."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "reliatic_appliance"

# layer -> project packages it must not import
FORBIDDEN = {
    "domain": {"api", "services", "storage", "cli", "app", "keys", "schemas", "settings"},
    # Storage tells /metrics through an observer it is handed (metrics.py), never directly.
    "storage": {"api", "services", "cli", "app", "keys", "schemas", "scheduler", "metrics"},
    "services": {"api", "cli", "app", "keys", "scheduler"},
    "schemas": {"api", "services", "storage", "cli", "app"},
    # The HTTP layer and the scheduler reach data through the services (and type it with
    # `ports`), never through the SQL modules.
    "api": {"storage", "cli"},
    "scheduler": {"api", "storage", "cli"},
    # The admin panel is HTTP layer too: the same services as the API, never the SQL.
    "admin": {"storage", "cli"},
}
# Database drivers: only the storage backend may import one (SPEC §11: one seam).
DRIVERS = {"apsw", "sqlite3", "aiosqlite", "psycopg", "psycopg_pool", "asyncpg"}
# Who holds a transaction handle works on the stores directly: the services do, and the
# scheduler asks them (it names no handle and hands no unit of work to a database).
TX_HANDLES = {"TenantTx", "ControlTx"}
RUNS_UNITS_OF_WORK = {"read", "write", "read_now"}
SQL = re.compile(r"\b(SELECT\s+.+\s+FROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM)\b", re.I)


def top_level_imports(path: Path) -> set[str]:
    """Every module `path` imports, by its top-level name (`apsw`, `reliatic_appliance`)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


def project_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "reliatic_appliance" and len(parts) > 1:
                found.add(parts[1])
    return found


def test_layers_import_only_downwards() -> None:
    problems = []
    for layer, forbidden in FORBIDDEN.items():
        for path in (PACKAGE / layer).rglob("*.py"):
            bad = project_imports(path) & forbidden
            if bad:
                problems.append(f"{path.relative_to(PACKAGE)} imports {sorted(bad)}")
    assert not problems, problems


def test_only_storage_imports_a_database_driver() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE)} imports {sorted(top_level_imports(path) & DRIVERS)}"
        for path in PACKAGE.rglob("*.py")
        if path.relative_to(PACKAGE).parts[0] != "storage" and top_level_imports(path) & DRIVERS
    ]
    assert not offenders, offenders


def test_only_the_postgresql_backend_imports_psycopg() -> None:
    """psycopg is an optional extra: only storage/postgresql/ may import it, so the SQLite
    backend, and everything else, works without it installed."""
    postgresql = PACKAGE / "storage" / "postgresql"
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if not path.is_relative_to(postgresql)
        and top_level_imports(path) & {"psycopg", "psycopg_pool"}
    ]
    assert not offenders, offenders


def test_the_storage_interface_imports_nothing_of_the_project() -> None:
    """`ports/` is what a second backend implements: it must not lean on the first."""
    for path in (PACKAGE / "ports").rglob("*.py"):
        assert not top_level_imports(path) & DRIVERS, path
        assert project_imports(path) <= {"ports"}, path


def test_domain_imports_nothing_of_the_project() -> None:
    for path in (PACKAGE / "domain").rglob("*.py"):
        assert not project_imports(path), path


def test_sql_lives_only_in_storage() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] == "storage":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            is_text = isinstance(node, ast.Constant) and isinstance(node.value, str)
            if is_text and SQL.search(node.value):
                offenders.append(f"{relative}:{node.lineno}")
    assert not offenders, offenders


def _name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.alias):
        return node.name
    return None


def units_of_work_and_handles(path: Path) -> list[str]:
    """Where `path` names a transaction handle, or passes a database a unit of work of its own
    (a lambda, a function it defines, a `partial` of one) to run."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    own = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}

    def is_unit_of_work(arg: ast.expr) -> bool:
        if isinstance(arg, ast.Call):  # functools.partial(fn, ...)
            return bool(arg.args) and is_unit_of_work(arg.args[0])
        return isinstance(arg, ast.Lambda) or (isinstance(arg, ast.Name) and arg.id in own)

    found = []
    for node in ast.walk(tree):
        if _name(node) in TX_HANDLES:
            found.append(f"{getattr(node, 'lineno', '?')}: names {_name(node)}")
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in RUNS_UNITS_OF_WORK
            and node.args
            and is_unit_of_work(node.args[0])
        ):
            found.append(f"{node.lineno}: runs its own unit of work")
    return found


def test_the_scheduler_reaches_data_only_through_the_services() -> None:
    """Claims, outcomes, alerts and housekeeping are services (SPEC §11: one seam): the
    scheduler never works on a store itself, so its rules live in one place and a second
    backend changes nothing in it."""
    offenders = [
        f"{path.relative_to(PACKAGE)}:{where}"
        for path in (PACKAGE / "scheduler").rglob("*.py")
        for where in units_of_work_and_handles(path)
    ]
    assert not offenders, offenders


def test_only_the_metrics_module_imports_prometheus() -> None:
    """One place knows the metrics library (metrics.py); the rest records through it, and
    storage only through the observer it is handed."""
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if "prometheus_client" in top_level_imports(path) and path.name != "metrics.py"
    ]
    assert not offenders, offenders
