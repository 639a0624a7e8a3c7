"""Assets API against the real server (SPEC §3, §5 Assets)."""

from __future__ import annotations

import json
import re

from reliatic_appliance.keys import TENANT_DBS
from tests.conftest import ASSET, Api, create_asset, events_of

COMPUTED = (
    "risk_ranking",
    "last_inspection_date",
    "corrosion_rate_mm_per_year",
    "remaining_life_years",
    "next_inspection_due",
)
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


async def test_create_returns_envelope_with_every_field_and_null_computed(api: Api) -> None:
    response = await api.post(
        "/api/v1/assets",
        json={**ASSET, "install_date": "1998-05-01", "nominal_thickness_mm": 25.4},
    )
    assert response.status == 201
    assert response.headers["Content-Type"].startswith("application/json")
    body = await response.json()
    asset = body["data"]
    assert set(body) == {"data", "meta"}
    assert TIMESTAMP.match(body["meta"]["timestamp"])
    assert response.headers["Location"] == f"/api/v1/assets/{asset['id']}"
    assert asset["status"] == "active"
    assert asset["install_date"] == "1998-05-01"
    assert asset["nominal_thickness_mm"] == 25.4
    for name in (*COMPUTED, "description", "location", "criticality"):
        assert name in asset and asset[name] is None, name
    assert TIMESTAMP.match(asset["created_at"]) and asset["created_at"] == asset["updated_at"]
    events = await events_of(api)
    assert [e["type"] for e in events] == ["asset.created"]
    assert events[0]["resource_id"] == asset["id"]


async def test_get_one(api: Api) -> None:
    asset = await create_asset(api)
    response = await api.get(f"/api/v1/assets/{asset['id']}")
    assert response.status == 200
    assert (await response.json())["data"] == asset


async def test_unknown_id_is_404(api: Api) -> None:
    response = await api.get("/api/v1/assets/ast_01ZZZZZZZZZZZZZZZZZZZZZZZZ")
    assert response.status == 404
    body = await response.json()
    assert body["error"] == "not_found" and body["details"] == []


async def test_duplicate_tag_is_409_case_insensitive_and_writes_nothing(api: Api) -> None:
    await create_asset(api)
    response = await api.post("/api/v1/assets", json={**ASSET, "tag_number": "v-101"})
    assert response.status == 409
    body = await response.json()
    assert body["error"] == "conflict"
    assert body["details"][0]["field"] == "tag_number"
    listing = await (await api.get("/api/v1/assets")).json()
    assert listing["meta"]["total"] == 1
    assert len(await events_of(api)) == 1


async def test_partial_update_changes_only_sent_fields_and_emits_before_after(api: Api) -> None:
    asset = await create_asset(api, location="Area 2", material="SA-516 Gr.70")
    response = await api.put(f"/api/v1/assets/{asset['id']}", json={"location": "Area 3"})
    assert response.status == 200
    updated = (await response.json())["data"]
    assert updated["location"] == "Area 3"
    assert updated["material"] == "SA-516 Gr.70"
    assert updated["updated_at"] > asset["updated_at"]
    events = await events_of(api)
    assert [e["type"] for e in events] == ["asset.created", "asset.updated"]
    data = json.loads(events[1]["data"])
    assert data["before"]["location"] == "Area 2" and data["after"]["location"] == "Area 3"


async def test_update_to_null_clears_optional_field_but_not_required(api: Api) -> None:
    asset = await create_asset(api, location="Area 2")
    response = await api.put(f"/api/v1/assets/{asset['id']}", json={"location": None})
    assert (await response.json())["data"]["location"] is None
    response = await api.put(f"/api/v1/assets/{asset['id']}", json={"name": None})
    assert response.status == 400
    assert (await response.json())["details"][0]["field"] == "name"


async def test_update_with_no_change_emits_nothing(api: Api) -> None:
    asset = await create_asset(api, location="Area 2")
    response = await api.put(f"/api/v1/assets/{asset['id']}", json={"location": "Area 2"})
    assert response.status == 200
    assert (await response.json())["data"]["updated_at"] == asset["updated_at"]
    assert len(await events_of(api)) == 1


async def test_update_tag_to_existing_is_409(api: Api) -> None:
    await create_asset(api)
    other = await create_asset(api, tag_number="P-101A")
    response = await api.put(f"/api/v1/assets/{other['id']}", json={"tag_number": "V-101"})
    assert response.status == 409


async def test_required_thickness_must_be_below_nominal_on_create_and_update(api: Api) -> None:
    response = await api.post(
        "/api/v1/assets",
        json={**ASSET, "nominal_thickness_mm": 10, "required_thickness_mm": 12},
    )
    assert response.status == 400
    assert (await response.json())["details"][0]["field"] == "required_thickness_mm"
    asset = await create_asset(api, nominal_thickness_mm=10, required_thickness_mm=6)
    response = await api.put(f"/api/v1/assets/{asset['id']}", json={"nominal_thickness_mm": 5})
    assert response.status == 400


async def test_delete_is_soft_and_emits_decommissioned(api: Api) -> None:
    asset = await create_asset(api)
    response = await api.delete(f"/api/v1/assets/{asset['id']}")
    assert response.status == 200
    assert (await response.json())["data"]["status"] == "decommissioned"
    again = await api.get(f"/api/v1/assets/{asset['id']}")
    assert (await again.json())["data"]["status"] == "decommissioned"
    # A second delete is a no-op, not a second event.
    assert (await api.delete(f"/api/v1/assets/{asset['id']}")).status == 200
    types = [e["type"] for e in await events_of(api)]
    assert types == ["asset.created", "asset.decommissioned"]


async def seed(api: Api) -> None:
    rows = [
        ("V-101", "vessel", "active", "HP separator, sour gas"),
        ("V-102", "vessel", "inactive", "LP flash drum"),
        ("P-2204-CS", "piping", "active", "Crude line to furnace"),
        ("TK-12", "tank", "active", "Diesel storage 100% full"),
        ("E-305", "heat_exchanger", "decommissioned", "Overhead condenser"),
        ("P-101A", "rotating", "active", "Crude charge pump_A"),
    ]
    for tag, kind, status, description in rows:
        await create_asset(
            api, tag_number=tag, name=tag, asset_type=kind, status=status, description=description
        )


async def tags(api: Api, query: str) -> list[str]:
    response = await api.get(f"/api/v1/assets?{query}")
    assert response.status == 200, await response.text()
    return [a["tag_number"] for a in (await response.json())["data"]]


async def test_filters(api: Api) -> None:
    await seed(api)
    assert await tags(api, "status=inactive") == ["V-102"]
    assert sorted(await tags(api, "type=vessel")) == ["V-101", "V-102"]
    assert sorted(await tags(api, "search=crude")) == ["P-101A", "P-2204-CS"]
    assert await tags(api, "search=v-10&status=active") == ["V-101"]
    # LIKE wildcards in the search are literal characters.
    assert await tags(api, "search=100%25") == ["TK-12"]
    assert await tags(api, "search=_A") == ["P-101A"]
    assert await tags(api, "search=' OR 1=1 --") == []


async def test_sort_and_stable_order(api: Api) -> None:
    await seed(api)
    assert await tags(api, "sort=tag_number") == sorted(
        ["V-101", "V-102", "P-2204-CS", "TK-12", "E-305", "P-101A"]
    )
    assert (await tags(api, "sort=-tag_number"))[0] == "V-102"
    default = await tags(api, "")
    ids = [a["id"] for a in (await (await api.get("/api/v1/assets")).json())["data"]]
    assert ids == sorted(ids) and len(default) == 6


async def test_updated_since(api: Api) -> None:
    first = await create_asset(api)
    second = await create_asset(api, tag_number="TK-12")
    since = second["created_at"]
    assert await tags(api, f"updated_since={since}") == ["TK-12"]
    await api.put(f"/api/v1/assets/{first['id']}", json={"location": "x"})
    assert sorted(await tags(api, f"updated_since={since}")) == ["TK-12", "V-101"]
    assert len(await tags(api, "updated_since=2000-01-01")) == 2
    assert await tags(api, "updated_since=2999-01-01T00:00:00%2B02:00") == []


async def test_pagination_meta_and_link_headers(api: Api) -> None:
    for n in range(7):
        await create_asset(api, tag_number=f"V-{100 + n}")
    response = await api.get("/api/v1/assets?per_page=3&page=2&type=vessel")
    body = await response.json()
    assert body["meta"] == {"page": 2, "per_page": 3, "total": 7, "total_pages": 3}
    assert len(body["data"]) == 3
    links = dict(
        (rel, url) for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', response.headers["Link"])
    )
    assert set(links) == {"first", "prev", "next", "last"}
    assert "page=3" in links["last"] and "type=vessel" in links["next"]
    assert "per_page=3" in links["first"]
    last = await (await api.get(links["last"])).json()
    assert len(last["data"]) == 1
    beyond = await (await api.get("/api/v1/assets?per_page=3&page=9")).json()
    assert beyond["data"] == [] and beyond["meta"]["total"] == 7


async def test_empty_list(api: Api) -> None:
    body = await (await api.get("/api/v1/assets")).json()
    assert body == {"data": [], "meta": {"page": 1, "per_page": 25, "total": 0, "total_pages": 0}}


async def test_sql_like_and_unicode_text_is_stored_verbatim(api: Api) -> None:
    text = "Robert'); DROP TABLE assets;-- ünïcødé ✓\nsecond line"
    asset = await create_asset(api, description=text)
    got = await (await api.get(f"/api/v1/assets/{asset['id']}")).json()
    assert got["data"]["description"] == text
    db = await api.client.app[TENANT_DBS].get(api.tenant["id"])
    assert await db.read(lambda tx: tx.events.count_events()) == 1
