"""`reliatic import assets` while `reliatic serve` runs on the same data dir: the server sees
the rows and their events at once, and its own writes go on during the import."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.process import Server, cli, cli_json, tenant_server

ENV = {"RELIATIC_RATE_LIMIT_DEFAULT_PER_MINUTE": "100000"}
ROWS = 3000


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with tenant_server(tmp_path / "data", ENV) as running:
        yield running


def test_the_running_server_sees_an_import_at_once(server: Server, tmp_path: Path) -> None:
    key = cli_json(
        server.data_dir, "key", "create", "--tenant", "acme", "--name", "k",
        "--level", "read_write",
    )["key"]  # fmt: skip
    # The server has counted (and remembered) the empty list before the import.
    status, _, body = server.request("GET", "/api/v1/assets", key=key)
    assert (status, body["meta"]["total"]) == (200, 0)
    register = tmp_path / "register.csv"
    lines = ["tag_number;name;asset_type;description"]
    lines += [f"CSV-{n:05d};Line {n};piping;Imported line number {n}" for n in range(ROWS)]
    register.write_text("\n".join(lines) + "\n", encoding="utf-8-sig")

    # The server keeps taking writes while the import runs; none may fail.
    statuses: list[int] = []
    done = threading.Event()

    def post_assets() -> None:
        n = 0
        while not done.is_set() or n < 5:
            body = {"tag_number": f"API-{n}", "name": "From the API", "asset_type": "tank"}
            statuses.append(server.request("POST", "/api/v1/assets", key=key, body=body)[0])
            n += 1

    writer = threading.Thread(target=post_assets)
    writer.start()
    try:
        imported = cli(server.data_dir, "import", "assets", "--tenant", "acme", str(register))
    finally:
        done.set()
        writer.join()
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.startswith(f"imported {ROWS} assets into tenant 'acme'")
    assert statuses and set(statuses) == {201}

    status, _, body = server.request("GET", "/api/v1/assets?per_page=1", key=key)
    assert status == 200 and body["meta"]["total"] == ROWS + len(statuses)
    status, _, body = server.request("GET", "/api/v1/assets?search=csv-00299", key=key)
    assert status == 200
    assert [a["tag_number"] for a in body["data"]] == ["CSV-00299"]
    asset = body["data"][0]
    assert asset["description"] == "Imported line number 299" and asset["status"] == "active"
    status, _, body = server.request("GET", "/api/v1/assets?type=piping&per_page=1", key=key)
    assert body["meta"]["total"] == ROWS

    status, _, body = server.request(
        "GET", "/api/v1/events?type=asset.created&per_page=100", key=key
    )
    assert status == 200 and body["meta"]["total"] == ROWS + len(statuses)
    imported_events = []
    after = "0"
    while True:  # the whole feed, oldest first, by its cursor
        status, _, page = server.request(
            "GET", f"/api/v1/events?type=asset.created&per_page=100&after={after}", key=key
        )
        if not page["data"]:
            break
        imported_events += [
            e for e in page["data"] if e["data"]["after"]["tag_number"].startswith("CSV-")
        ]
        after = page["data"][-1]["id"]
    assert len(imported_events) == ROWS
    # In the file's order, each with the asset as GET shows it.
    assert [e["data"]["after"]["tag_number"] for e in imported_events] == [
        f"CSV-{n:05d}" for n in range(ROWS)
    ]
    for event in imported_events:
        assert event["data"]["before"] is None
        assert event["resource"] == {"type": "asset", "id": event["data"]["after"]["id"]}
    assert imported_events[299]["data"]["after"] == asset
    status, _, one = server.request("GET", f"/api/v1/assets/{asset['id']}", key=key)
    assert status == 200 and one["data"] == asset

    # Export from the running server's data dir: every asset, the API's and the file's.
    exported = cli(server.data_dir, "export", "assets", "--tenant", "acme")
    assert exported.returncode == 0, exported.stderr
    assert len(exported.stdout.splitlines()) == 1 + ROWS + len(statuses)
