"""Only a duplicate is a conflict: the SQLite backend maps the UNIQUE constraint on a tag or
an email to `UniqueViolation` (a 409 upstream) and lets any other constraint failure through
as the bug it is, rather than telling a client its tag is taken."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import apsw
import pytest

from reliatic_appliance.ports import UniqueViolation
from reliatic_appliance.storage.assets import SqliteAssets
from reliatic_appliance.storage.sqlite import connect
from reliatic_appliance.storage.tenancy import migrate_file

pytestmark = pytest.mark.sqlite_only(
    reason="the SQLite store's own constraint mapping, on an apsw connection"
)


def asset(asset_id: str, tag: str, **changes: Any) -> dict[str, Any]:
    return {
        "id": asset_id,
        "tag_number": tag,
        "name": "Drum",
        "asset_type": "vessel",
        "status": "active",
        "created_at": "2026-12-02T00:00:00.000000Z",
        "updated_at": "2026-12-02T00:00:00.000000Z",
        **changes,
    }


@pytest.fixture
def assets(tmp_path: Path) -> SqliteAssets:
    path = tmp_path / "tenant.db"
    migrate_file(path, "tenant")
    store = SqliteAssets(connect(path))
    store.insert_asset(asset("ast_1", "V-101"))
    return store


@pytest.mark.parametrize("insert", ["one", "bulk"])
def test_a_duplicate_tag_is_a_unique_violation(assets: SqliteAssets, insert: str) -> None:
    duplicate = asset("ast_2", "v-101")  # tags are unique without regard to case
    with pytest.raises(UniqueViolation) as caught:
        if insert == "one":
            assets.insert_asset(duplicate)
        else:
            assets.insert_assets([duplicate])
    assert caught.value.column == "tag_number"


@pytest.mark.parametrize("insert", ["one", "bulk"])
def test_another_constraint_is_not_reported_as_a_taken_tag(
    assets: SqliteAssets, insert: str
) -> None:
    broken = asset("ast_3", "V-102", status=None)  # NOT NULL
    with pytest.raises(apsw.ConstraintError, match="NOT NULL"):
        if insert == "one":
            assets.insert_asset(broken)
        else:
            assets.insert_assets([broken])
