"""One version (SPEC §3): pyproject.toml's, reported by `reliatic --version` and OpenAPI, and
recorded in CHANGELOG.md."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from reliatic_appliance import __version__
from tests.process import cli

ROOT = Path(__file__).resolve().parents[1]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]


def test_cli_reports_the_pyproject_version() -> None:
    result = cli(Path("/nonexistent"), "--version")
    assert (result.returncode, result.stdout) == (0, f"reliatic {VERSION}\n")
    assert __version__ == VERSION


def test_the_version_is_written_down_once() -> None:
    # A literal copy in the package would be a second source, free to drift from pyproject.
    copies = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "reliatic_appliance").rglob("*.py")
        if re.search(rf"[\"']{re.escape(VERSION)}[\"']", path.read_text(encoding="utf-8"))
    ]
    assert copies == []


def test_changelog_has_the_version_and_what_is_unreleased() -> None:
    headings = re.findall(r"^## (.+)$", (ROOT / "CHANGELOG.md").read_text(encoding="utf-8"), re.M)
    assert headings[0] == "Unreleased"
    assert VERSION in headings
