"""`reliatic demo` as an operator runs it: a subprocess, then the real server and its API.

The demo plant must be what SPEC §2 and issue 4 promise, seen through the API with the key
the command printed: every resource present, the computed fields filled, every lifecycle
state reached through real transitions, and the events feed populated.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

from reliatic_appliance.domain.vocabulary import AssetType
from tests.process import Server, cli, cli_json, start_server

ACTION_STATES = ("open", "in_progress", "on_hold", "completed", "verified", "closed", "cancelled")


def _get(server: Server, key: str, path: str) -> Any:
    status, _, body = server.request("GET", path, key=key)
    assert status == 200, (path, body)
    return body


def _all(server: Server, key: str, path: str) -> list[dict[str, Any]]:
    """Every item of a list endpoint, page by page."""
    sep = "&" if "?" in path else "?"
    items: list[dict[str, Any]] = []
    page = 1
    while True:
        body = _get(server, key, f"{path}{sep}per_page=100&page={page}")
        items += body["data"]
        if page >= body["meta"]["total_pages"]:
            return items
        page += 1


def _total(server: Server, key: str, path: str) -> int:
    sep = "&" if "?" in path else "?"
    return int(_get(server, key, f"{path}{sep}per_page=1")["meta"]["total"])


def _printed_key(stdout: str) -> str:
    return next(line.split(": ", 1)[1] for line in stdout.splitlines() if "(shown once)" in line)


def _key_id(data_dir: Path, key: str) -> str:
    keys = cli_json(data_dir, "key", "list", "--tenant", "demo")
    return str(next(k["id"] for k in keys if k["prefix"] == key[:12]))


def test_demo_loads_a_whole_plant_and_prints_a_working_key(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = cli(data_dir, "demo")
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    key = _printed_key(first.stdout)
    curls = [line.strip() for line in lines if line.strip().startswith("curl ")]
    assert curls[0] == (
        f"curl -s -H 'Authorization: Bearer {key}' 'http://127.0.0.1:8080/api/v1/assets?per_page=5'"
    )
    assert "/api/v1/actions?overdue=true" in curls[1]
    assert "revoked" not in first.stdout  # nothing before the first run
    first_id = _key_id(data_dir, key)

    # Each run makes a fresh key and revokes the one before, saying so.
    second = cli(data_dir, "demo")
    assert f"revoked the previous demo key(s): {first_id}" in second.stdout.splitlines()
    again = cli_json(data_dir, "demo")
    assert again["assets_created"] == 0 and again["actions_created"] == 0
    assert again["key"] != key
    assert again["revoked_key_ids"] == [_key_id(data_dir, _printed_key(second.stdout))]
    live = [k for k in cli_json(data_dir, "key", "list", "--tenant", "demo") if not k["revoked_at"]]
    assert [k["id"] for k in live] == [again["key_id"]]
    old_key, key = key, again["key"]

    server = start_server(data_dir, {"RELIATIC_RATE_LIMIT_DEFAULT_PER_MINUTE": "10000"})
    try:
        assert server.request("GET", "/api/v1/assets", key=old_key)[0] == 401
        # Assets over all five types, with the SPEC §6 computed fields filled in.
        assets = _all(server, key, "/api/v1/assets")
        assert len(assets) >= 200
        assert {a["asset_type"] for a in assets} == set(AssetType)
        tags = {a["tag_number"] for a in assets}
        assert all(re.fullmatch(r"[A-Z]{1,3}-[0-9A-Z-]+", t) for t in tags), sorted(tags)[:5]
        corroding = [
            a
            for a in assets
            if a["corrosion_rate_mm_per_year"] is not None
            and a["remaining_life_years"] is not None
            and a["next_inspection_due"] is not None
        ]
        assert len(corroding) >= 20
        assert any(a["remaining_life_years"] == 0 for a in corroding)
        assert sum(a["risk_ranking"] is not None for a in assets) >= 100

        inspections = _all(server, key, "/api/v1/inspections")
        assert len(inspections) >= 500
        assert {i["effectiveness"] for i in inspections} >= {"A", "B", "C", "D", "E"}

        failure_modes = _all(server, key, "/api/v1/failure-modes")
        assert {f["action_priority"] for f in failure_modes} == {"H", "M", "L"}

        # Actions: every lifecycle state, reached through recorded transitions.
        for state in ACTION_STATES:
            assert _total(server, key, f"/api/v1/actions?status={state}") >= 1, state
        assert _total(server, key, "/api/v1/actions?overdue=true") >= 1
        closed = _get(server, key, "/api/v1/actions?status=closed&per_page=1")["data"][0]
        steps = [(h["from"], h["to"]) for h in closed["history"]]
        assert steps[0] == (None, "open") and steps[-1] == ("verified", "closed")
        assert all(h["by"] == "demo" for h in closed["history"])

        for ranking in ("low", "medium", "medium_high", "high"):
            assert _total(server, key, f"/api/v1/risk-assessments?risk_ranking={ranking}") >= 1

        mocs = _all(server, key, "/api/v1/mocs")
        assert len(Counter(m["status"] for m in mocs)) >= 5

        events = _all(server, key, "/api/v1/events")
        assert {e["type"] for e in events} >= {
            "asset.created",
            "asset.updated",
            "inspection.completed",
            "action.status_changed",
            "risk_assessment.created",
            "moc.status_changed",
        }
    finally:
        server.stop()
