"""Assets > Import (SPEC §10) and the register as a CSV download: the same service as
`reliatic import assets` / `export assets` (services/asset_csv.py), so the file format, the
row-level report and the all-or-nothing rule are the CLI's.

The upload is an ordinary multipart form (no JavaScript needed). The front door has read it,
within `[server] max_body_bytes` (aiohttp's `client_max_size`), to check its CSRF token; an
over-large one never reaches this module and is answered by `render.html_errors`.
"""

from __future__ import annotations

import asyncio
import html
import io
import re
from typing import Any

from aiohttp import web

from reliatic_appliance.admin.render import SECURITY_HEADERS, PageCall, page, redirect
from reliatic_appliance.keys import ADMIN_SECRETS, SETTINGS
from reliatic_appliance.services.asset_csv import (
    CREATE_FIELDS,
    EXPORT_COLUMNS,
    REQUIRED,
    CsvFileError,
    ImportRefused,
    Problem,
    export_assets,
    import_assets,
    parse_assets,
)

BASE = "/admin/assets/import"
EXPORT = "/admin/assets/export.csv"
FIELD = "file"
# A report of a whole register of bad rows would pass the page's 100 KB with its CSS and
# scripts (SPEC §10): the first problems show what is wrong, the count says how much. Both
# bounds hold: a hundred rows, and their text as the page writes it (a header of many
# unknown columns has long messages, each listing the fields).
MAX_SHOWN = 100
MAX_SHOWN_CHARS = 12_000
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def size_words(n: int) -> str:
    """`[server] max_body_bytes` as a person reads it: 1048576 -> `1 MB`."""
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f}".removesuffix(".0") + " MB"
    if n >= 1024:
        return f"{n // 1024} KB"
    return f"{n} bytes"


def _render(call: PageCall, *, status: int = 200, **context: Any) -> web.Response:
    context.setdefault("error", None)
    context.setdefault("report", None)
    context.setdefault("result", None)
    return call.render(
        "assets_import.html",
        status=status,
        title="Import assets",
        required=REQUIRED,
        # In the order an export writes them: the order people see in their own files.
        columns=[name for name in EXPORT_COLUMNS if name in CREATE_FIELDS],
        max_size=size_words(call.request.app[SETTINGS].server.max_body_bytes),
        **context,
    )


@page(admin=True)
async def import_page(call: PageCall) -> web.StreamResponse:
    # After an import the redirect carries a one-time token for its result (a flash):
    # a reload shows the form alone, and the count cannot be made up in the address.
    result = None
    if call.field("result"):
        result = call.request.app[ADMIN_SECRETS].take(
            call.viewer.user_id, call.field("result"), now=call.now
        )
    return _render(call, result=result)


def _shown(problems: list[Problem]) -> list[Problem]:
    """The first problems, within MAX_SHOWN and MAX_SHOWN_CHARS (at least one)."""
    shown: list[Problem] = []
    left = MAX_SHOWN_CHARS
    for problem in problems[:MAX_SHOWN]:
        left -= len(html.escape(problem.message)) + len(problem.field or "")
        if left < 0 and shown:
            break
        shown.append(problem)
    return shown


def _report(refused: ImportRefused, filename: str) -> dict[str, Any]:
    problems = refused.problems
    return {
        "filename": filename,
        "problems": [p.as_dict() for p in _shown(problems)],
        "total": len(problems),
        "bad_rows": len({p.row for p in problems}),
        "header_only": all(p.row == 1 for p in problems),
        "rows": refused.rows,
    }


@page(admin=True)
async def upload(call: PageCall) -> web.StreamResponse:
    sent = call.form.get(FIELD)
    if not isinstance(sent, web.FileField) or not sent.filename:
        return _render(call, status=400, error="Choose a CSV file to import, then press Import.")
    # Its name as the person knows it: some browsers send a whole Windows path.
    filename = sent.filename.replace("\\", "/").rsplit("/", 1)[-1][:200]
    # aiohttp spooled the part to a temporary file; reading and checking a register of a
    # few thousand rows takes a while of CPU, which the event loop should not wait for.
    data = await asyncio.to_thread(sent.file.read)
    try:
        parsed = await asyncio.to_thread(parse_assets, data)
    except CsvFileError as exc:
        return _render(call, status=400, error=f"{filename}: {exc}. Nothing was imported.")
    try:
        imported = await import_assets(
            await call.tenant_db(),
            parsed,
            # The events' actor, as for any request: the signed-in user (a key's id for the API).
            actor=call.viewer.principal.actor,
            now=call.now,
        )
    except ImportRefused as refused:
        return _render(call, status=400, report=_report(refused, filename))
    result = {
        "imported": imported,
        "filename": filename,
        "ignored_columns": parsed.ignored_columns,
    }
    token = call.request.app[ADMIN_SECRETS].put(call.viewer.user_id, result, now=call.now)
    raise redirect(f"{BASE}?result={token}")


@page(admin=False)
async def export_csv(call: PageCall) -> web.StreamResponse:
    """The whole register, as `reliatic export assets --bom` writes it. Every role: it is
    what the (read-only) asset pages an engineer may see show, in a form a spreadsheet opens."""
    out = io.StringIO(newline="")
    # A BOM: a browser's download is opened in a spreadsheet, and Excel reads UTF-8 without
    # one as the local code page. The import takes it either way.
    out.write("\ufeff")
    await export_assets(await call.tenant_db(), out)
    slug = _SAFE_NAME.sub("-", call.viewer.principal.tenant_slug)
    name = f"assets-{slug}-{call.now:%Y-%m-%d}.csv"
    return web.Response(
        body=out.getvalue().encode("utf-8"),
        content_type="text/csv",
        charset="utf-8",
        headers={**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'},
    )
