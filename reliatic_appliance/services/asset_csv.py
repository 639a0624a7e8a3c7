"""Assets to and from CSV (SPEC §2 `import assets` / `export assets`).

Import is all or nothing: every row is read and validated by the API's own create model
(`AssetCreate`) and the service's own checks before anything is written, every problem is
collected as (spreadsheet row, field, reason), and only a file without one is written, in
one transaction through the same service path as `POST /api/v1/assets` (events, outbox
rows, maintained counts and search index included).

The file format, for people with a spreadsheet:
- the first row names the columns with the API's field names, in any order; `,` or `;`
  separates cells (whichever the header row holds more of); UTF-8, with or without a BOM;
- numbers have a decimal point (`25.4`), or in a `;` file a decimal comma (`25,4`);
- an empty cell is a field not given: null, or the API's default (`status`: active);
- the read-only fields an export writes (`id`, the computed fields, the timestamps) are
  accepted as columns and ignored, so an export can be imported again;
- a text cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is written
  with a `'` in front, so a spreadsheet shows it rather than running it as a formula (OWASP,
  "CSV injection"); import removes that one `'` again. Precisely: export adds a `'` to a
  text that is zero or more `'` followed by one of those characters, and import removes
  one `'` from a cell that is one or more `'` followed by one of them, so every text comes
  back as it was and a user's own `'=1+2` is read as `=1+2`, as the spreadsheet showed it.
  Numbers are written as numbers (a pressure of -50 stays `-50.0`): a cell that is
  a valid number is not a formula, and only text fields can carry one.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TextIO

import pydantic
import pydantic_core

from reliatic_appliance.errors import ApiError
from reliatic_appliance.ports import TenantDb, TenantTx, UniqueViolation
from reliatic_appliance.schemas.assets import Asset, AssetCreate
from reliatic_appliance.services.assets import insert_new_assets, new_assets, prepare_new_asset
from reliatic_appliance.services.field_errors import field_errors

Row = dict[str, Any]
Progress = Callable[[int], None]

# What a row may name: the create model's fields (validated) and the rest of the API's
# representation (ignored on import). The export writes the representation, in its order.
CREATE_FIELDS: tuple[str, ...] = tuple(AssetCreate.model_fields)
EXPORT_COLUMNS: tuple[str, ...] = tuple(Asset.model_fields)
READ_ONLY: frozenset[str] = frozenset(EXPORT_COLUMNS) - frozenset(CREATE_FIELDS)
REQUIRED: tuple[str, ...] = tuple(n for n, f in AssetCreate.model_fields.items() if f.is_required())


def _json_types(schema: dict[str, Any]) -> set[str]:
    options = schema.get("anyOf", [schema])
    return {option.get("type", "") for option in options}


# Cells of these fields are numbers (JSON numbers in a request body); read from the model's
# own schema, so a new numeric field needs no change here.
NUMERIC: frozenset[str] = frozenset(
    name
    for name, prop in AssetCreate.model_json_schema()["properties"].items()
    if _json_types(prop) & {"number", "integer"}
)
# A decimal number, as spreadsheets write them (not `nan`, `inf`, `1_000` or `0x1F`, which
# float() would also take).
_NUMBER = re.compile(r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")
# `25,4`: a spreadsheet set to a decimal comma writes numbers so, and separates cells with
# `;`; in such a file a comma between digits can only be the decimal point.
_DECIMAL_COMMA = re.compile(r"^[+-]?[0-9]+,[0-9]+$")
# Formula injection (OWASP): a text starting with = + - @ tab or CR may be run as a formula.
_NEEDS_QUOTE = re.compile(r"^'*[=+\-@\t\r]")
_QUOTED = re.compile(r"^'+[=+\-@\t\r]")
# Tags are unique as SQLite's NOCASE compares them: ASCII letters folded, nothing else.
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
# Said about a file that is not UTF-8; spreadsheets call the right format this.
_SAVE_AS = "save it from the spreadsheet as 'CSV UTF-8'"
# How .xlsx/.ods (zip) and .xls (OLE compound file) begin.
_WORKBOOK_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")


class CsvFileError(Exception):
    """The file as a whole cannot be read (encoding, quoting, no header): one line."""


@dataclass(frozen=True)
class Problem:
    """One reason a row (or the header, row 1) is refused."""

    row: int
    field: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "message": self.message}


class ImportRefused(Exception):
    """The file has problems; nothing was written."""

    def __init__(self, problems: list[Problem], rows: int) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = sorted(problems, key=lambda p: p.row)
        self.rows = rows


@dataclass
class ParsedAssets:
    """A file read and checked: the rows to write (storage values) or the problems."""

    delimiter: str
    assets: list[Row] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    # (row, tag) of every row that gives a tag, valid or not: checked against the tenant's
    # tags too, so one report names every clash.
    tags: list[tuple[int, str]] = field(default_factory=list)
    rows: int = 0  # data rows read, blank ones not counted


# -- formula neutralisation -------------------------------------------------------------


def neutralise(text: str) -> str:
    """Export: a `'` in front of a text a spreadsheet would take for a formula."""
    return "'" + text if _NEEDS_QUOTE.match(text) else text


def restore(text: str) -> str:
    """Import: undo `neutralise` (see the module's docstring for why this is exact)."""
    # The first test is cheap and nearly always false: this runs for every cell.
    return text[1:] if text[:1] == "'" and _QUOTED.match(text) else text


# -- reading ----------------------------------------------------------------------------


def decode(data: bytes) -> str:
    """UTF-8 text, a BOM removed; anything else is a `CsvFileError` saying what to do."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise CsvFileError(f"the file is UTF-16, not UTF-8; {_SAVE_AS}")
    if data.startswith(_WORKBOOK_MAGIC):
        # The likeliest wrong file from a person with a spreadsheet (the panel's upload):
        # say so, rather than naming a byte of a zip archive.
        raise CsvFileError(f"the file is a spreadsheet workbook, not CSV; {_SAVE_AS}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        byte = data[exc.start : exc.start + 1].hex()
        raise CsvFileError(
            f"the file is not UTF-8 (byte 0x{byte} on line {line}); {_SAVE_AS}"
        ) from None


def sniff_delimiter(text: str) -> str:
    """`;` if the header line holds more `;` than `,` (a spreadsheet set to a decimal
    comma writes `;`), else `,`. Field names hold neither, so the header decides."""
    header = text.split("\n", 1)[0]
    return ";" if header.count(";") > header.count(",") else ","


def _header_problems(header: list[str]) -> list[Problem]:
    problems = []
    seen: dict[str, int] = {}
    known = ", ".join(name for name in EXPORT_COLUMNS if name in CREATE_FIELDS)
    for number, name in enumerate(header, start=1):
        if not name:
            problems.append(Problem(1, None, f"column {number} has no name"))
        elif name not in CREATE_FIELDS and name not in READ_ONLY:
            message = f"is not a field of an asset (column {number}); the fields are: {known}"
            problems.append(Problem(1, name, message))
        elif name in seen:
            message = f"names columns {seen[name]} and {number}; keep one"
            problems.append(Problem(1, name, message))
        else:
            seen[name] = number
    problems += [Problem(1, name, "is a required column") for name in REQUIRED if name not in seen]
    return problems


def _body(header: list[str], cells: list[str], *, decimal_comma: bool) -> Row:
    """A row as the JSON body a client would send: empty cells left out, numbers as numbers."""
    body: Row = {}
    for name, cell in zip(header, cells, strict=True):
        if cell == "" or name in READ_ONLY:
            continue
        cell = restore(cell)
        body[name] = _number(cell, decimal_comma=decimal_comma) if name in NUMERIC else cell
    return body


def _number(cell: str, *, decimal_comma: bool) -> int | float | str:
    """A numeric cell as a JSON number; anything else stays text, so that the model refuses
    it with the API's own message ("Input should be a valid number")."""
    text = cell.strip()
    if decimal_comma and _DECIMAL_COMMA.match(text):
        text = text.replace(",", ".")
    if not _NUMBER.match(text):
        return cell
    if text.lstrip("+-").isdigit():
        return int(text)
    value = float(text)
    return value if math.isfinite(value) else cell


def _validate(body: Row) -> Row:
    """What `POST /api/v1/assets` would store for this body, or `ApiError`/pydantic's error."""
    model = AssetCreate.model_validate_json(pydantic_core.to_json(body))
    sent = {name: getattr(model, name) for name in model.model_fields_set}
    return prepare_new_asset(sent | {"status": model.status})


def parse_assets(data: bytes, *, progress: Progress | None = None) -> ParsedAssets:
    """Read and check a whole file; `CsvFileError` if it cannot be read at all."""
    text = decode(data)
    if not text.strip():
        raise CsvFileError("the file is empty; the first row must name the columns")
    delimiter = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = [name.strip() for name in next(reader)]
        parsed = ParsedAssets(delimiter=delimiter)
        parsed.problems = _header_problems(header)
        if parsed.problems:
            return parsed
        parsed.ignored_columns = [name for name in header if name in READ_ONLY]
        _check_rows(parsed, header, reader, progress)
    except csv.Error as exc:
        raise CsvFileError(f"line {reader.line_num}: {exc}") from None
    return parsed


def _check_rows(
    parsed: ParsedAssets,
    header: list[str],
    reader: Iterable[list[str]],
    progress: Progress | None,
) -> None:
    first_row_of: dict[str, int] = {}
    tag_at = header.index("tag_number")
    decimal_comma = parsed.delimiter == ";"
    # Row 1 is the header: the first data row is row 2, as a spreadsheet numbers it.
    for number, cells in enumerate(reader, start=2):
        if progress is not None:
            progress(number - 1)
        if not any(cell.strip() for cell in cells):
            continue  # a blank line, or a spreadsheet's row of empty cells
        parsed.rows += 1
        if len(cells) != len(header):
            message = f"has {len(cells)} cells; the header has {len(header)}"
            parsed.problems.append(Problem(number, None, message))
            continue
        tag = restore(cells[tag_at])
        if tag:
            key = tag.translate(_ASCII_LOWER)
            if key in first_row_of:
                message = f"repeats the tag of row {first_row_of[key]} (tags are unique, any case)"
                parsed.problems.append(Problem(number, "tag_number", message))
            else:
                first_row_of[key] = number
                parsed.tags.append((number, tag))
        try:
            asset = _validate(_body(header, cells, decimal_comma=decimal_comma))
        except pydantic.ValidationError as exc:
            for detail in field_errors(exc, unknown="is not a known field"):
                parsed.problems.append(Problem(number, detail["field"], detail["message"]))
            continue
        except ApiError as exc:
            for detail in exc.details:
                parsed.problems.append(Problem(number, detail.get("field"), detail["message"]))
            continue
        parsed.assets.append(asset)


# -- importing --------------------------------------------------------------------------


async def import_assets(
    db: TenantDb,
    parsed: ParsedAssets,
    *,
    actor: str | None,
    now: datetime,
    progress: Progress | None = None,
) -> int:
    """Write every asset of `parsed` in one transaction, or none: `ImportRefused` lists
    the file's problems and the tags that exist already. Returns how many were written."""
    problems = parsed.problems + await _taken(db, parsed, "already exists in this tenant")
    if problems:
        raise ImportRefused(problems, parsed.rows)

    assets = new_assets(parsed.assets, now=now)

    def write(tx: TenantTx) -> int:
        return len(insert_new_assets(tx, assets, actor=actor))

    if progress is not None:
        progress(0)
    try:
        written = await db.write(write)
    except UniqueViolation:
        # Another writer (the server) added one of the tags since the check above; the
        # transaction wrote nothing. Say which.
        problems = await _taken(db, parsed, "already exists in this tenant (added meanwhile)")
        raise ImportRefused(
            problems or [Problem(1, "tag_number", "a tag was taken meanwhile; run it again")],
            parsed.rows,
        ) from None
    if progress is not None:
        progress(written)
    return written


async def _taken(db: TenantDb, parsed: ParsedAssets, message: str) -> list[Problem]:
    """A problem for each row whose tag an asset of the tenant has already."""
    tags = [tag for _, tag in parsed.tags]
    taken = await db.read(lambda tx: tx.assets.existing_tags(tags))
    folded = {tag.translate(_ASCII_LOWER) for tag in taken}
    return [
        Problem(number, "tag_number", message)
        for number, tag in parsed.tags
        if tag.translate(_ASCII_LOWER) in folded
    ]


# -- exporting --------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return neutralise(value)
    # Numbers as the API's JSON writes them (4500.0, -50.0, 1e-05): never a formula.
    return pydantic_core.to_json(value).decode()


async def export_assets(db: TenantDb, out: TextIO, *, progress: Progress | None = None) -> int:
    """Write every asset (all statuses), id order, header first; returns how many.

    One read snapshot, so a server writing meanwhile cannot make the file half old, half
    new. `out` is opened with `newline=""` (csv writes RFC 4180's CRLF itself)."""
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)

    def read(tx: TenantTx) -> int:
        count = 0
        for count, row in enumerate(tx.assets.each_asset(), start=1):
            writer.writerow([_cell(row[name]) for name in EXPORT_COLUMNS])
            if progress is not None:
                progress(count)
        return count

    return await db.read(read)
