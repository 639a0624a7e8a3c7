"""The layering of STYLE.md, checked on every run: api -> services -> storage; domain pure;
SQL and database drivers only under storage/; the services reach data only through the
storage interface (`ports/`, SPEC §11)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "reliatic_appliance"

# layer -> project packages it must not import
FORBIDDEN = {
    "domain": {"api", "services", "storage", "cli", "app", "keys", "schemas", "settings"},
    "storage": {"api", "services", "cli", "app", "keys", "schemas", "scheduler"},
    "services": {"api", "cli", "app", "keys", "scheduler"},
    "schemas": {"api", "services", "storage", "cli", "app"},
    # The HTTP layer and the scheduler reach data through the services (and type it with
    # `ports`), never through the SQL modules.
    "api": {"storage", "cli"},
    "scheduler": {"api", "storage", "cli"},
}
# Database drivers: only the storage backend may import one (SPEC §11: one seam).
DRIVERS = {"apsw", "sqlite3", "aiosqlite", "psycopg", "psycopg_pool", "asyncpg"}
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
