#!/usr/bin/env bash
# Prove the dependency floors in pyproject.toml (issue 11): a venv of its own with the LOWEST
# version each floor allows, of every runtime dependency and of the test runner; the package
# on top with --no-deps; then every module imported and a smoke subset of the tests run.
# A floor that is only declared (aiohttp>=3.12 while the code needs 3.14) fails here.
#
# The pins come from pyproject.toml itself (each `>=X` becomes `==X`), so there is nothing
# to keep in step. Transitive dependencies resolve as usual, to their newest compatible
# versions: the floors checked are the ones this project declares.
#
# Usage: scripts/lowest-deps.sh          (make test runs it; PYTHON and LOWEST_VENV override)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
python=${PYTHON:-python3}
venv=${LOWEST_VENV:-.venv-lowest}
started=$SECONDS

# The test files that need nothing beyond the runner (no schemathesis, no standardwebhooks),
# chosen so each floor is exercised: the server and its middlewares (aiohttp), list pages
# serialised by SQLite against single GETs (apsw), validation and settings (pydantic),
# sealed secrets (cryptography), async fixtures (pytest-asyncio, pytest-aiohttp), the
# real `reliatic serve` and CLI as subprocesses, and the admin panel's pages (jinja2).
smoke=(
    tests/test_assets_api.py
    tests/test_asset_listing.py
    tests/test_settings.py
    tests/test_secretbox.py
    tests/test_auth.py
    tests/test_serve_process.py
    tests/admin/test_public_pages.py
    tests/test_cli.py::test_tenant_lifecycle
    tests/test_cli.py::test_key_create_list_revoke
)

pins="$("$python" - <<'EOF'
import re
import sys
import tomllib

with open("pyproject.toml", "rb") as fh:
    project = tomllib.load(fh)["project"]
# The runtime dependencies, the optional runtime extras (the PostgreSQL driver, uvloop:
# every module is imported below, theirs too), and of the test extra the runner the smoke
# tests need.
runner = {"pytest", "pytest-asyncio", "pytest-aiohttp"}
optional = project["optional-dependencies"]
wanted = list(project["dependencies"]) + optional["postgresql"] + optional["uvloop"]
wanted += [r for r in optional["test"] if re.split(r"[\[<>=!~; ]", r)[0] in runner]
for requirement in wanted:
    name, extras = re.match(r"([A-Za-z0-9_.-]+)(\[[^\]]*\])?", requirement).groups()
    floor = re.search(r">=\s*([^,;\s]+)", requirement)
    if floor is None:
        sys.exit(f"lowest-deps: {requirement!r} has no >= floor to test")
    print(f"{name}{extras or ''}=={floor[1]}")
EOF
)"
echo "lowest-deps: $(echo $pins)"

# Reused while pyproject.toml is unchanged (a fresh clone, as in CI, always builds it).
stamp="$venv/pyproject.sha256"
if [[ ! -f "$stamp" ]] || ! sha256sum --status -c "$stamp" 2>/dev/null; then
    rm -rf "$venv"
    "$python" -m venv "$venv"
    # shellcheck disable=SC2086  # one argument per pin
    "$venv/bin/python" -m pip install --quiet $pins
    "$venv/bin/python" -m pip install --quiet --no-deps -e .
    sha256sum pyproject.toml >"$stamp"
fi
"$venv/bin/python" -m pip check

"$venv/bin/python" - <<'EOF'
import importlib
import pkgutil

import reliatic_appliance

names = [m.name for m in pkgutil.walk_packages(reliatic_appliance.__path__, "reliatic_appliance.")]
for name in names:
    if not name.endswith(".__main__"):  # __main__ runs the CLI when imported
        importlib.import_module(name)
# cryptography's floor is the first release with Argon2id's PHC string in its wheels
# (LIBRARIES.md: password hashing); a source build on an older OpenSSL would lack it too.
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

phc = Argon2id(salt=b"0" * 16, length=32, iterations=1, lanes=1, memory_cost=64).derive_phc_encoded(
    b"x"
)
Argon2id.verify_phc_encoded(b"x", phc)
print(f"lowest-deps: {len(names)} modules import; Argon2id works")
EOF

"$venv/bin/python" -m pytest -q -p no:cacheprovider "${smoke[@]}"
echo "lowest-deps: OK in $((SECONDS - started)) s"
