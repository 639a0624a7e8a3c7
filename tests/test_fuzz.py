"""Schema-driven fuzzing of the live server with schemathesis (SPEC §3: the document must
tell the truth; issue 6's gate). Runs the `st` CLI against a real `reliatic serve` process.

Every operation is fuzzed (revoking keys included), at least 50 examples each, in all four
phases (examples, coverage, fuzzing, stateful), with the checks below; any failure, or any
unhandled error in the server's log, fails the test. Before the run the tenant is seeded
through the API with rows of every resource (and alerts, which the scheduler raises), and
schemathesis draws most path, query and body ids from those rows (its "dictionaries"), so
by-id operations reach real rows and not only 404s. Ids are never taken from responses:
the fuzzer could otherwise revoke its own key and spend the rest of the run on 401s.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.process import Server, cli, cli_json, start_server

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    ]
)
WRITABLE = ("assets", "inspections", "failure_modes", "actions", "risk_assessments", "mocs")
# Fixed so CI is repeatable; change it locally (or drop it) to explore further.
SEED = os.environ.get("RELIATIC_FUZZ_SEED", "20261125")
EXAMPLES = os.environ.get("RELIATIC_FUZZ_EXAMPLES", "50")
SERVER_ENV = {
    "RELIATIC_RATE_LIMIT_DEFAULT_PER_MINUTE": "1000000",
    "RELIATIC_RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE": "1000000",
    # The scheduler's first pass (at start) raises the SLA alerts the run needs; after it,
    # an hour's sleep: no delivery goes to the URLs the fuzzer makes up.
    "RELIATIC_SCHEDULER_TICK_SECONDS": "3600",
}
# Of generated values, how many are drawn from the seeded ids instead.
FROM_SEED = 0.7


def _post(server: Server, key: str, path: str, body: dict[str, Any] | None = None) -> str:
    status, _, payload = server.request("POST", path, key=key, body=body)
    assert status in (201, 202), (path, status, payload)
    return str(payload["data"]["id"])


def seed(server: Server, key: str) -> dict[str, list[str]]:
    """Rows of every resource, made through the API; returns id name -> ids."""
    ids: dict[str, list[str]] = {}

    def add(name: str, path: str, body: dict[str, Any] | None = None) -> str:
        made = _post(server, key, path, body)
        ids.setdefault(name, []).append(made)
        return made

    assets = [
        add("asset_id", "/api/v1/assets", {"tag_number": f"V-{n}", "name": "n", "asset_type": t})
        for n, t in enumerate(("vessel", "piping", "tank"))
    ]
    for asset in assets[:2]:
        inspection = {"inspection_type": "ut_spot", "inspector_name": "J. Smith"}
        add(
            "inspection_id",
            "/api/v1/inspections",
            {
                **inspection,
                "asset_id": asset,
                "inspection_date": "2024-03-01",
                "min_measured_thickness_mm": 9.5,
            },
        )
        add(
            "risk_assessment_id",
            "/api/v1/risk-assessments",
            {"asset_id": asset, "probability_of_failure": 3, "consequence_of_failure": 4},
        )
    for n in range(5):  # several: DELETE removes them for good
        add(
            "failure_mode_id",
            "/api/v1/failure-modes",
            {
                "asset_id": assets[n % 3],
                "description": "Pitting",
                "severity": 5,
                "occurrence": 4,
                "detection": 3,
            },
        )
    overdue = (datetime.now(UTC).date() - timedelta(days=40)).isoformat()
    for n in range(3):
        add(
            "action_id",
            "/api/v1/actions",
            {
                "title": f"Action {n}",
                "priority": "high",
                "asset_id": assets[0],
                "due_date": overdue,
            },
        )
        add("moc_id", "/api/v1/mocs", {"title": f"MOC {n}", "requested_by": "a.engineer"})
    for n in range(4):
        webhook = add(
            "webhook_id",
            "/api/v1/webhooks",
            {"events": ["asset.updated"], "url": f"https://cmms{n}.example.invalid/hook"},
        )
        ids.setdefault("delivery_id", []).append(
            _post(server, key, f"/api/v1/webhooks/{webhook}/test")
        )
    for n in range(4):  # spare keys to revoke: the fuzzer's own key is never offered
        add("key_id", "/api/v1/api-keys", {"name": f"spare {n}", "level": "read_only"})
    return ids


def alert_ids(server: Server, key: str) -> list[str]:
    """The SLA alerts the scheduler raised for the overdue actions (it runs at start)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        _, _, payload = server.request("GET", "/api/v1/alerts?per_page=100", key=key)
        if payload["data"]:
            return [alert["id"] for alert in payload["data"]]
        time.sleep(0.2)
    raise AssertionError("the scheduler raised no alert")


def write_config(path: Path, ids: dict[str, list[str]]) -> None:
    """schemathesis.toml: seeded ids as dictionaries, bound to every place ids go."""
    lines = [
        # Ids only from the seed and from explicit links, never scraped from responses.
        "[phases.examples.extra-data-sources]",
        "responses = false",
        "[phases.coverage.extra-data-sources]",
        "responses = false",
        "[phases.fuzzing.extra-data-sources]",
        "responses = false",
        "[phases.stateful.inference]",
        'algorithms = ["location-headers"]',
    ]
    bindings = []
    for name, values in ids.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values)}"]
        places = ["path", "query", "body"] if name != "key_id" else ["path"]
        for place in places:
            bindings.append(
                f'"{place}.{name}" = {{ dictionary = "{name}", probability = {FROM_SEED} }}'
            )
    lines += ["[parameters]", *bindings]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_schemathesis_finds_no_mismatch(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    assert cli(data_dir, "init").returncode == 0
    assert cli(data_dir, "tenant", "create", "acme").returncode == 0
    scopes = [f"{resource}:write" for resource in WRITABLE] + [
        "alerts:read",
        "events:read",
        "webhooks:write",
        "audit:read",
        "api_keys:write",
    ]
    key = cli_json(
        data_dir,
        "key",
        "create",
        "--tenant",
        "acme",
        "--name",
        "fuzz",
        "--level",
        "read_write",
        *(arg for scope in scopes for arg in ("--scope", scope)),
    )["key"]
    server = start_server(data_dir, SERVER_ENV)
    try:
        ids = seed(server, key)
    finally:
        server.stop()
    # Restarted, the scheduler's first pass escalates the overdue actions into alerts.
    server = start_server(data_dir, SERVER_ENV)
    st = shutil.which("st", path=str(Path(sys.executable).parent)) or "st"
    config = tmp_path / "schemathesis.toml"
    started = time.monotonic()
    try:
        ids["alert_id"] = alert_ids(server, key)
        write_config(config, ids)
        result = subprocess.run(
            [
                st,
                "--config-file",
                str(config),
                "run",
                f"{server.base}/api/v1/openapi.json",
                "-H",
                f"Authorization: Bearer {key}",
                "--checks",
                CHECKS,
                "--max-examples",
                EXAMPLES,
                "--seed",
                SEED,
                # One worker: with two, hypothesis' lambda-source introspection races and
                # schemathesis reports it as a runtime error (not an API failure).
                "--workers",
                "1",
                "--no-color",
            ],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
            cwd=tmp_path,
        )
    finally:
        server.stop()
    elapsed = time.monotonic() - started
    summary = result.stdout.split("SUMMARY")[-1]
    print(f"schemathesis: {elapsed:.0f} s\n{summary}")
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
    # Warnings (e.g. "most generated ids were unknown: 404") are fine; failures are not.
    assert " passed" in summary and "failed" not in summary
    # Every operation of the document was selected and tested (none filtered out).
    selected = re.search(r"Selected: (\d+)/(\d+)", summary)
    tested = re.search(r"Tested: (\d+)", summary)
    assert selected and tested, summary
    assert selected[1] == selected[2] == tested[1], summary
    # The server logged no unhandled error while being fuzzed, and nothing on stderr.
    assert not [line for line in log_lines(server) if line["level"] == "error"]
    assert "Traceback" not in server.log_path.with_suffix(".err").read_text(encoding="utf-8")


def log_lines(server: Server) -> list[dict[str, Any]]:
    # Split on "\n" only: str.splitlines() also splits at U+2028, U+0085 and the like,
    # which pydantic-core leaves unescaped inside the JSON strings of a fuzzed path.
    text = server.log_path.read_text(encoding="utf-8")
    return [json.loads(line) for line in text.split("\n") if line.strip()]
