"""Debian's chromium under Playwright for the panel's browser tests (LIBRARIES.md).

Browsers cannot be downloaded here (`playwright install` fails), so Playwright drives
/usr/bin/chromium, which `make test-deps` installs with apt-get when run as root. Without it
the browser tests skip with a loud reason, except under REQUIRE_BROWSER_TESTS=1 (CI,
`.ci/run`), where they fail: CI never skips.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is not installed (pip install -e '.[test]')"
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install chromium, as root: make test-deps)"
    return None


def require_browser() -> None:
    """Skip (loudly) or fail, as the environment asks, when no browser can run."""
    reason = missing()
    if reason is None:
        return
    message = f"BROWSER TESTS NOT RUN: {reason}"
    if os.environ.get("REQUIRE_BROWSER_TESTS") == "1":
        pytest.fail(f"{message}; REQUIRE_BROWSER_TESTS=1 forbids skipping them")
    print(f"\n{'!' * 78}\n{message}\n{'!' * 78}", file=sys.stderr)
    pytest.skip(message)
