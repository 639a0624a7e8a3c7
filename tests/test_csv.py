"""`reliatic import assets` / `export assets` (SPEC §2): real files, a real tenant database,
the command's exit status, report and --json; nothing half-written."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest

from reliatic_appliance.cli.main import main
from reliatic_appliance.cli.progress import ProgressBar
from reliatic_appliance.services.asset_csv import EXPORT_COLUMNS, neutralise, restore
from reliatic_appliance.storage.backends import open_storage
from reliatic_appliance.storage.sqlite import connect
from tests import rawsql
from tests.conftest import make_settings
from tests.pg_cluster import backend_env

HEADER = "tag_number,name,asset_type,design_pressure_kpa,install_date,description"
GOOD = [
    "V-101,HP Separator,vessel,4500,2019-05-01,Crude overhead",
    "P-7,Feed Line,piping,-50.5,,",
    'T-3,Tank 3,tank,,,"Water, treated"',
]
# Made by the server, not by the file: the round trip may change them.
NOT_ROUND_TRIPPED = {
    "id",
    "created_at",
    "updated_at",
    "risk_ranking",
    "last_inspection_date",
    "corrosion_rate_mm_per_year",
    "remaining_life_years",
    "next_inspection_due",
}


@dataclass
class Run:
    status: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


class Cli:
    """`reliatic` in this process, on one data dir: fast enough to run dozens of times."""

    def __init__(self, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.data_dir = data_dir
        self._capsys = capsys

    def __call__(self, *args: str) -> Run:
        self._capsys.readouterr()
        # In this process the command reads os.environ: the data dir's backend goes there.
        with patch.dict(os.environ, backend_env(self.data_dir)):
            status = main(["--data-dir", str(self.data_dir), *args])
        captured = self._capsys.readouterr()
        return Run(status, captured.out, captured.err)

    def tenant_id(self, slug: str) -> str:
        tenants = self("tenant", "list", "--json").json()
        return str(next(t["id"] for t in tenants if t["slug"] == slug))

    def tenant(self, slug: str) -> Tenant:
        return Tenant(self.data_dir, self.tenant_id(slug))


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    run = Cli(tmp_path / "data", capsys)
    assert run("init").status == 0
    assert run("tenant", "create", "acme").status == 0
    return run


def write(path: Path, text: str, *, bom: bool = False, encoding: str = "utf-8") -> Path:
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding))
    return path


def csv_file(tmp_path: Path, *lines: str, name: str = "assets.csv", **kw: Any) -> Path:
    return write(tmp_path / name, "\r\n".join(lines) + "\r\n", **kw)


class Tenant:
    """Reads beneath the command, to see what it wrote (or did not), on either backend: the
    tenant's file on SQLite, its rows as the server's role sees them on PostgreSQL."""

    def __init__(self, data_dir: Path, tenant_id: str) -> None:
        self.storage = open_storage(make_settings(data_dir))
        self.db = asyncio.run(self.storage.tenants.get(tenant_id))
        # SQLite's trigram index (asset_search) has no table on PostgreSQL.
        self.has_search_index = not rawsql.on_postgresql(self.db)

    def rows(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        return asyncio.run(rawsql.rows(self.db, sql, params))

    def one(self, sql: str, *params: Any) -> Any:
        (row,) = self.rows(sql, *params)
        return next(iter(row.values()))

    def counts(self) -> dict[str, Any]:
        counts = {
            "assets": self.one("SELECT COUNT(*) FROM assets"),
            "events": self.one("SELECT COUNT(*) FROM events"),
            "deliveries": self.one("SELECT COUNT(*) FROM webhook_deliveries"),
            "counted": self.one("SELECT COALESCE(SUM(n), 0) FROM asset_counts"),
        }
        if self.has_search_index:
            counts["indexed"] = self.one("SELECT COUNT(*) FROM asset_search")
        return counts

    def assets(self) -> list[dict[str, Any]]:
        return asyncio.run(self.db.read(lambda tx: list(tx.assets.each_asset())))

    def events(self) -> list[dict[str, Any]]:
        rows = self.rows("SELECT * FROM events ORDER BY id")
        return [{**row, "data": json.loads(row["data"])} for row in rows]

    def close(self) -> None:
        self.storage.close()


@pytest.fixture
def acme(cli: Cli) -> Iterator[Tenant]:
    tenant = cli.tenant("acme")
    yield tenant
    tenant.close()


def subscribe(cli: Cli) -> None:
    added = cli(
        "webhook", "add", "--tenant", "acme", "--url", "https://cmms.plant.example/h",
        "--event", "asset.created",
    )  # fmt: skip
    assert added.status == 0, added.err


# -- good files -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delimiter", "bom"),
    [
        pytest.param(",", False, id="comma"),
        pytest.param(",", True, id="comma-bom"),
        pytest.param(";", False, id="semicolon"),
        pytest.param(";", True, id="semicolon-bom"),
    ],
)
def test_a_good_file_imports_every_row(
    cli: Cli, acme: Tenant, tmp_path: Path, delimiter: str, bom: bool
) -> None:
    lines = [HEADER, *GOOD]
    if delimiter == ";":
        lines = [HEADER.replace(",", ";"), *(line.replace(",", ";") for line in GOOD)]
        lines[3] = 'T-3;Tank 3;tank;;;"Water, treated"'
    result = cli("import", "assets", "--tenant", "acme", str(csv_file(tmp_path, *lines, bom=bom)))
    assert result.status == 0, result.err
    assert result.out.startswith("imported 3 assets into tenant 'acme'")
    assets = {a["tag_number"]: a for a in acme.assets()}
    assert set(assets) == {"V-101", "P-7", "T-3"}
    vessel = assets["V-101"]
    assert vessel["design_pressure_kpa"] == 4500.0 and vessel["install_date"] == "2019-05-01"
    assert vessel["status"] == "active" and vessel["description"] == "Crude overhead"
    # An empty cell is a field not given: null.
    assert assets["P-7"]["design_pressure_kpa"] == -50.5 and assets["P-7"]["description"] is None
    assert assets["T-3"]["description"] == "Water, treated"
    assert assets["T-3"]["risk_ranking"] is None and assets["T-3"]["next_inspection_due"] is None


def test_a_semicolon_file_may_use_a_decimal_comma(cli: Cli, acme: Tenant, tmp_path: Path) -> None:
    path = csv_file(
        tmp_path,
        "tag_number;name;asset_type;design_pressure_kpa;nominal_thickness_mm",
        "V-1;Drum;vessel;-50,5;25,4",
        "V-2;Drum;vessel;1.234,5;",  # a thousands separator: not a number here
    )
    result = cli("import", "assets", "--tenant", "acme", str(path), "--json")
    assert result.json()["problems"] == [
        {"row": 3, "field": "design_pressure_kpa", "message": "Input should be a valid number"}
    ]
    path = csv_file(
        tmp_path, "tag_number;name;asset_type;design_pressure_kpa", "V-1;Drum;vessel;-50,5"
    )
    assert cli("import", "assets", "--tenant", "acme", str(path)).status == 0
    assert acme.assets()[0]["design_pressure_kpa"] == -50.5


def test_each_imported_asset_has_its_event_and_outbox_row(
    cli: Cli, acme: Tenant, tmp_path: Path
) -> None:
    subscribe(cli)
    result = cli("import", "assets", "--tenant", "acme", str(csv_file(tmp_path, HEADER, *GOOD)))
    assert result.status == 0, result.err
    expected = {"assets": 3, "events": 3, "deliveries": 3, "counted": 3}
    if acme.has_search_index:
        expected["indexed"] = 3
    assert acme.counts() == expected
    events = acme.events()
    assert [e["type"] for e in events] == ["asset.created"] * 3
    assert all(e["actor"].startswith("cli:") for e in events)
    # The event carries the asset exactly as GET returns it.
    for event, asset in zip(events, acme.assets(), strict=True):
        assert event["resource_id"] == asset["id"]
        assert event["data"] == {"before": None, "after": asset}
    pending = acme.rows("SELECT status, event_id FROM webhook_deliveries")
    assert sorted(d["event_id"] for d in pending) == [e["id"] for e in events]
    assert {d["status"] for d in pending} == {"pending"}


def test_a_header_only_file_imports_nothing_and_succeeds(
    cli: Cli, acme: Tenant, tmp_path: Path
) -> None:
    result = cli("import", "assets", "--tenant", "acme", str(csv_file(tmp_path, HEADER)), "--json")
    assert result.status == 0, result.err
    assert result.json()["imported"] == 0
    assert acme.counts()["assets"] == 0


def test_blank_rows_are_skipped_and_row_numbers_stay_the_spreadsheets(
    cli: Cli, acme: Tenant, tmp_path: Path
) -> None:
    path = csv_file(tmp_path, HEADER, GOOD[0], ",,,,,", "", "X-1,,tank,,,")
    result = cli("import", "assets", "--tenant", "acme", str(path), "--json")
    assert result.status == 1
    # The empty line is row 4 in a spreadsheet too: the bad row is row 5 there as here.
    assert result.json()["problems"] == [{"row": 5, "field": "name", "message": "is required"}]


# -- bad files: a report, nothing written ----------------------------------------------

BAD_ROWS = [
    HEADER + ",nominal_thickness_mm,required_thickness_mm",
    "V-1,Drum,vessel,,,,10,12",  # required >= nominal: the service's own rule
    "V-2,,pump,abc,2020/01/02,,,",  # four problems in one row
    "V-3,Ok,tank,,,",  # too few cells
    "V-4,Ok,tank,999999999,,,,",  # out of the field's bounds
    "V-5,Ok,tank,,,,,",  # fine, but the file is refused as a whole
]
BAD_REPORT = [
    {
        "row": 2,
        "field": "required_thickness_mm",
        "message": "must be less than nominal_thickness_mm",
    },
    {"row": 3, "field": "install_date", "message": "must be a date as YYYY-MM-DD"},
    {"row": 3, "field": "design_pressure_kpa", "message": "Input should be a valid number"},
    {"row": 3, "field": "name", "message": "is required"},
    {
        "row": 3,
        "field": "asset_type",
        "message": "Input should be 'vessel', 'piping', 'tank', 'heat_exchanger' or 'rotating'",
    },
    {"row": 4, "field": None, "message": "has 6 cells; the header has 8"},
    {
        "row": 5,
        "field": "design_pressure_kpa",
        "message": "Input should be less than or equal to 1000000",
    },
]


def test_bad_rows_are_all_reported_and_nothing_is_written(
    cli: Cli, acme: Tenant, tmp_path: Path
) -> None:
    subscribe(cli)
    assert (
        cli("import", "assets", "--tenant", "acme", str(csv_file(tmp_path, HEADER, GOOD[0]))).status
        == 0
    )
    before = acme.counts()
    path = csv_file(tmp_path, *BAD_ROWS, name="bad.csv")
    result = cli("import", "assets", "--tenant", "acme", str(path), "--json")
    assert result.status == 1
    report = result.json()
    assert report["imported"] == 0 and report["rows"] == 5
    assert sorted(report["problems"], key=lambda p: (p["row"], p["field"] or "")) == sorted(
        BAD_REPORT, key=lambda p: (p["row"], p["field"] or "")
    )
    assert result.err == f"reliatic: error: {path}: 7 problems in 4 row(s); nothing was imported\n"
    assert acme.counts() == before
    human = cli("import", "assets", "--tenant", "acme", str(path))
    assert human.status == 1
    assert "row 2, required_thickness_mm: must be less than nominal_thickness_mm" in human.out
    assert "row 4: has 6 cells; the header has 8" in human.out
    assert len(human.out.splitlines()) == 7
    assert acme.counts() == before


def test_duplicate_tags_in_the_file_and_in_the_tenant_are_reported(
    cli: Cli, acme: Tenant, tmp_path: Path
) -> None:
    assert (
        cli("import", "assets", "--tenant", "acme", str(csv_file(tmp_path, HEADER, GOOD[0]))).status
        == 0
    )
    before = acme.counts()
    path = csv_file(
        tmp_path,
        "tag_number,name,asset_type",
        "v-101,Again,vessel",  # the tenant has V-101: tags are unique in any case
        "E-1,Exchanger,heat_exchanger",
        "e-1,Same tag,heat_exchanger",
        "V-101,Bad type too,boiler",  # the tenant's tag, and the file's v-101 again
        name="dupes.csv",
    )
    result = cli("import", "assets", "--tenant", "acme", str(path), "--json")
    assert result.status == 1
    problems = {(p["row"], p["field"], p["message"]) for p in result.json()["problems"]}
    assert problems == {
        (2, "tag_number", "already exists in this tenant"),
        (4, "tag_number", "repeats the tag of row 3 (tags are unique, any case)"),
        (5, "tag_number", "repeats the tag of row 2 (tags are unique, any case)"),
        (
            5,
            "asset_type",
            "Input should be 'vessel', 'piping', 'tank', 'heat_exchanger' or 'rotating'",
        ),
    }
    assert acme.counts() == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(b"", "the file is empty; the first row must name the columns", id="empty"),
        pytest.param(
            b"\r\n \r\n", "the file is empty; the first row must name the columns", id="blank"
        ),
        pytest.param(
            "tag_number,name,asset_type\nV-1,Müller,tank\n".encode("latin-1"),
            "the file is not UTF-8 (byte 0xfc on line 2);"
            " save it from the spreadsheet as 'CSV UTF-8'",
            id="latin-1",
        ),
        pytest.param(
            "tag_number,name,asset_type\n".encode("utf-16"),
            "the file is UTF-16, not UTF-8; save it from the spreadsheet as 'CSV UTF-8'",
            id="utf-16",
        ),
        pytest.param(
            b'tag_number,name,asset_type\nV-1,"unclosed,tank\n',
            "line 2: unexpected end of data",
            id="unclosed-quote",
        ),
    ],
)
def test_a_file_that_cannot_be_read_is_one_line(
    cli: Cli, acme: Tenant, tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(content)
    result = cli("import", "assets", "--tenant", "acme", str(path))
    assert (result.status, result.out) == (1, "")
    assert result.err == f"reliatic: error: {path}: {message}\n"
    assert acme.counts()["assets"] == 0


@pytest.mark.parametrize(
    ("header", "problems"),
    [
        pytest.param(
            "tag_number,name,asset_type,colour",
            [
                (
                    1,
                    "colour",
                    "is not a field of an asset (column 4); the fields are: tag_number, name,"
                    " asset_type, description, status, location, unit, manufacturer,"
                    " material, install_date, design_pressure_kpa, design_temperature_c,"
                    " nominal_thickness_mm, required_thickness_mm, corrosion_allowance_mm,"
                    " criticality",
                )
            ],
            id="unknown",
        ),
        pytest.param(
            "tag_number,name,asset_type,name",
            [(1, "name", "names columns 2 and 4; keep one")],
            id="duplicate",
        ),
        pytest.param(
            "tag_number,asset_type,,unit",
            [(1, None, "column 3 has no name"), (1, "name", "is a required column")],
            id="nameless-and-missing",
        ),
    ],
)
def test_header_problems_name_the_column(
    cli: Cli, acme: Tenant, tmp_path: Path, header: str, problems: list[tuple[Any, ...]]
) -> None:
    path = csv_file(tmp_path, header, "V-1,Drum,vessel,x")
    result = cli("import", "assets", "--tenant", "acme", str(path), "--json")
    assert result.status == 1
    assert [(p["row"], p["field"], p["message"]) for p in result.json()["problems"]] == problems
    assert acme.counts()["assets"] == 0


def test_unknown_and_disabled_tenants_are_refused(cli: Cli, tmp_path: Path) -> None:
    path = str(csv_file(tmp_path, HEADER, *GOOD))
    unknown = cli("import", "assets", "--tenant", "nope", path)
    assert (unknown.status, unknown.err) == (1, "reliatic: error: Tenant 'nope' not found.\n")
    assert cli("tenant", "disable", "acme").status == 0
    for args in (
        ["import", "assets", "--tenant", "acme", path],
        ["export", "assets", "--tenant", "acme"],
    ):
        refused = cli(*args)
        assert refused.status == 1 and refused.out == ""
        assert refused.err == (
            "reliatic: error: tenant 'acme' is disabled; 'reliatic tenant enable acme' first\n"
        )


def test_a_missing_file_is_one_line(cli: Cli, tmp_path: Path) -> None:
    result = cli("import", "assets", "--tenant", "acme", str(tmp_path / "nope.csv"))
    assert result.status == 1
    assert result.err.startswith("reliatic: error: cannot read ") and result.err.count("\n") == 1


# -- export and the round trip ---------------------------------------------------------

# Texts a spreadsheet would run, quotes, separators, line breaks, non-ASCII, and numbers
# below zero: every one must come back as it went out.
TRICKY = [
    {"tag_number": "=HYPERLINK(\"http://x\")", "name": "+1 pump", "asset_type": "rotating",
     "description": "-- see drawing\r\nline two, \"quoted\"", "location": "@area",
     "unit": "-5 m level", "manufacturer": "'=already quoted", "material": "'plain quote",
     "design_pressure_kpa": -50.0, "design_temperature_c": -196.5, "criticality": "high"},
    {"tag_number": "E-100", "name": "Überhitzer 1", "asset_type": "heat_exchanger",
     "status": "decommissioned", "install_date": "1999-12-31", "nominal_thickness_mm": 12.7,
     "required_thickness_mm": 6.35, "corrosion_allowance_mm": 0.0, "manufacturer": "''=x",
     "description": "\tindented"},
    {"tag_number": "P-1", "name": "Pipe", "asset_type": "piping", "status": "inactive",
     "location": "", "description": "\rstarts with CR"},
]  # fmt: skip


def _file_of(records: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    columns = ["tag_number", "name", "asset_type", "status", "description", "location", "unit",
               "manufacturer", "material", "install_date", "design_pressure_kpa",
               "design_temperature_c", "nominal_thickness_mm", "required_thickness_mm",
               "corrosion_allowance_mm", "criticality"]  # fmt: skip
    writer.writerow(columns)
    for record in records:
        writer.writerow([neutralise(str(record[c])) if c in record else "" for c in columns])
    return out.getvalue()


def test_export_round_trips_into_an_empty_tenant(cli: Cli, acme: Tenant, tmp_path: Path) -> None:
    source = write(tmp_path / "tricky.csv", _file_of(TRICKY))
    imported = cli("import", "assets", "--tenant", "acme", str(source))
    assert imported.status == 0, imported.out + imported.err
    exported = tmp_path / "export.csv"
    result = cli("export", "assets", "--tenant", "acme", "--out", str(exported))
    assert result.status == 0, result.err
    assert result.out == f"exported 3 assets of tenant 'acme' to {exported}\n"
    assert cli("tenant", "create", "copy").status == 0
    again = cli("import", "assets", "--tenant", "copy", str(exported), "--json")
    assert again.status == 0, again.out + again.err
    assert again.json()["ignored_columns"] == [c for c in EXPORT_COLUMNS if c in NOT_ROUND_TRIPPED]
    copy = cli.tenant("copy")
    try:

        def comparable(assets: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return sorted(
                ({k: v for k, v in a.items() if k not in NOT_ROUND_TRIPPED} for a in assets),
                key=lambda a: a["tag_number"],
            )

        original = comparable(acme.assets())
        assert comparable(copy.assets()) == original
        # ...and the originals are what the first file said (the empty location is null).
        by_tag = {a["tag_number"]: a for a in original}
        assert by_tag['=HYPERLINK("http://x")']["manufacturer"] == "'=already quoted"
        assert by_tag['=HYPERLINK("http://x")']["material"] == "'plain quote"
        assert by_tag["E-100"]["manufacturer"] == "''=x"
        assert by_tag["P-1"]["location"] is None and by_tag["P-1"]["status"] == "inactive"
    finally:
        copy.close()


def test_export_writes_every_asset_and_neutralises_formulas(
    cli: Cli, acme: Tenant, tmp_path: Path
) -> None:
    source = write(tmp_path / "tricky.csv", _file_of(TRICKY))
    assert cli("import", "assets", "--tenant", "acme", str(source)).status == 0
    result = cli("export", "assets", "--tenant", "acme")  # to stdout
    assert result.status == 0, result.err
    assert "\r\n" in result.out  # RFC 4180 line ends
    rows = list(csv.DictReader(io.StringIO(result.out, newline="")))
    assert list(rows[0]) == list(EXPORT_COLUMNS)
    assert {r["status"] for r in rows} == {"active", "inactive", "decommissioned"}
    by_name = {r["name"]: r for r in rows}
    pump = by_name["'+1 pump"]
    assert pump["tag_number"] == '\'=HYPERLINK("http://x")'
    assert pump["description"].startswith("'-- see drawing")
    assert pump["location"] == "'@area" and pump["unit"] == "'-5 m level"
    assert pump["manufacturer"] == "''=already quoted"  # a quote then =: one more quote
    assert pump["material"] == "'plain quote"  # nothing a spreadsheet would run: unchanged
    # Numbers are numbers, as the API writes them, even below zero: not formulas.
    assert pump["design_pressure_kpa"] == "-50.0" and pump["design_temperature_c"] == "-196.5"
    assert by_name["Pipe"]["description"] == "'\rstarts with CR"
    exchanger = by_name["Überhitzer 1"]
    assert exchanger["description"] == "'\tindented"
    assert (
        exchanger["install_date"] == "1999-12-31" and exchanger["corrosion_allowance_mm"] == "0.0"
    )
    assert exchanger["created_at"].endswith("Z") and exchanger["risk_ranking"] == ""
    for row in rows:  # no cell a spreadsheet would take for a formula
        for column, cell in row.items():
            if column not in ("design_pressure_kpa", "design_temperature_c"):
                assert not cell[:1] or cell[0] not in "=+-@\t\r", (column, cell)


def test_export_to_a_file_with_a_bom_reads_back(cli: Cli, acme: Tenant, tmp_path: Path) -> None:
    assert (
        cli("import", "assets", "--tenant", "acme", str(csv_file(tmp_path, HEADER, *GOOD))).status
        == 0
    )
    out = tmp_path / "excel.csv"
    assert cli("export", "assets", "--tenant", "acme", "--out", str(out), "--bom").status == 0
    assert out.read_bytes().startswith(b"\xef\xbb\xbfid,tag_number,")
    assert not list(tmp_path.glob(".*.partial"))


@pytest.mark.parametrize(
    "text",
    ["=1+2", "+1", "-1", "@x", "\tx", "\rx", "'=1", "''@", "'", "''", "'x", "x=1", "", "-",
     "plain", "'-5", "=", "\t"],
)  # fmt: skip
def test_neutralise_then_restore_is_the_identity(text: str) -> None:
    written = neutralise(text)
    assert restore(written) == text
    assert not written[:1] or written[0] not in "=+-@\t\r"


@pytest.mark.parametrize(
    ("cell", "read"),
    [("'=1+2", "=1+2"), ("'-5", "-5"), ("''@x", "'@x"), ("'x", "'x"), ("'", "'"), ("=1", "=1")],
)
def test_import_removes_one_quote_before_a_formula_character(cell: str, read: str) -> None:
    assert restore(cell) == read


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_draws_only_on_a_terminal() -> None:
    terminal = _Terminal()
    bar = ProgressBar("writing", total=200, stream=terminal)
    bar(0)
    bar(200)
    bar.close()
    text = terminal.getvalue()
    assert text.startswith("\rwriting [") and text.endswith("100% 200/200\n")
    piped = io.StringIO()
    bar = ProgressBar("writing", total=200, stream=piped)
    bar(200)
    bar.close()
    assert piped.getvalue() == ""


@pytest.mark.sqlite_only(reason="holds a SQLite file's write lock from another connection")
def test_an_import_that_cannot_get_the_write_lock_writes_nothing(
    cli: Cli, acme: Tenant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer (the server, a backup) holds the lock past the busy timeout: one line,
    status 1, and the file can be imported once the lock is free."""
    monkeypatch.setenv("RELIATIC_STORAGE_BUSY_TIMEOUT_MS", "200")
    path = str(csv_file(tmp_path, HEADER, *GOOD))
    holder = connect(cli.data_dir / "tenants" / f"{cli.tenant_id('acme')}.db")
    holder.execute("BEGIN IMMEDIATE")
    try:
        result = cli("import", "assets", "--tenant", "acme", path)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    # stdout stays clean: the storage's warning log line goes to stderr, before the error.
    assert result.status == 1 and result.out == ""
    assert result.err.endswith(
        "reliatic: error: The service is temporarily unavailable (storage busy or full);"
        " retry later.\n"
    )
    assert acme.counts()["assets"] == 0
    assert cli("import", "assets", "--tenant", "acme", path).status == 0
    assert acme.counts()["assets"] == 3
