"""Without a browser the browser tests skip loudly, unless CI demands them (then they fail)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.admin import browser


def test_no_chromium_skips_loudly(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(browser, "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.delenv("REQUIRE_BROWSER_TESTS", raising=False)
    with pytest.raises(pytest.skip.Exception, match="BROWSER TESTS NOT RUN"):
        browser.require_browser()
    assert "BROWSER TESTS NOT RUN" in capsys.readouterr().err


def test_no_chromium_fails_when_required(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(browser, "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.setenv("REQUIRE_BROWSER_TESTS", "1")
    with pytest.raises(pytest.fail.Exception, match="REQUIRE_BROWSER_TESTS=1"):
        browser.require_browser()


def test_with_chromium_nothing_is_in_the_way(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = tmp_path / "chromium"
    fake.touch()
    monkeypatch.setattr(browser, "CHROMIUM", fake)
    assert browser.missing() is None
    browser.require_browser()
