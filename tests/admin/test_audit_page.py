"""The Audit page (SPEC §10): acts made in the panel, newest first, filtered, and the chain
check's verdict, also after the file was changed from outside the process."""

from __future__ import annotations

import re

import pytest

from tests.admin.conftest import ADMIN, Panel
from tests.conftest import app_data_dir
from tests.test_audit import _tamper


async def test_the_panels_acts_are_in_the_log_newest_first(panel: Panel) -> None:
    for name in ("first", "second"):
        response = await panel.form(
            "/admin/settings/api-keys", {"name": name, "level": "read_only"}
        )
        assert response.status == 303
    page = await panel.client.get("/admin/audit")
    assert page.status == 200
    text = await page.text()
    assert "<strong>Intact.</strong>" in text
    rows = re.findall(r"<tr>\s*<td class=\"nowrap\">.*?</tr>", text, re.S)
    created = [
        r for r in rows if "<code>api_key.created</code>" in r and ("first" in r or "second" in r)
    ]
    assert len(created) == 2
    assert "second" in created[0] and "first" in created[1]  # newest first
    assert ADMIN in created[0]  # the actor, by name

    filtered = await (await panel.client.get("/admin/audit?action=api_key.created")).text()
    assert "3 entries" in filtered  # and the fixture's own key
    nothing = await (await panel.client.get("/admin/audit?action=no.such")).text()
    assert "No entry matches" in nothing


@pytest.mark.sqlite_only(
    reason="tampers with the SQLite file from outside (on PostgreSQL: rows, as the owner)"
)
async def test_the_check_names_an_entry_altered_from_outside(panel: Panel) -> None:
    await panel.form("/admin/settings/api-keys", {"name": "k", "level": "read_only"})
    control = app_data_dir(panel.client) / "control.db"
    _tamper(control, "UPDATE audit_log SET actor = 'cli:someone' WHERE action = 'api_key.created'")
    text = await (await panel.client.get("/admin/audit")).text()
    assert "<strong>Broken.</strong>" in text
    assert re.search(r"control chain: entry \S+ \(#\d+\): .*altered", text), text[-2000:]


async def test_an_engineer_is_refused_the_audit_log(panel: Panel) -> None:
    response = await panel.engineer.get(panel.url("/admin/audit"), allow_redirects=False)
    assert response.status == 403
