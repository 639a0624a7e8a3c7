"""Strong ETags and conditional requests on every single resource (SPEC §3, RFC 9110):
If-Match that does not match is 412 and changes nothing; If-None-Match on a GET is 304."""

from __future__ import annotations

import asyncio
import hashlib
import json

import pytest
from aiohttp.test_utils import TestClient

from reliatic_appliance.api import etags
from reliatic_appliance.app import OPERATIONS
from tests.conftest import Api, open_api
from tests.resources import (
    ADMIN_SCOPES,
    CREATE_BODIES,
    CREATE_PATHS,
    UPDATE_BODIES,
    seed_all,
    table_counts,
)

# path-parameter name -> the resource's path prefix
# Every resource some operation declares (api/resources.py).
RESOURCES = {op.resource for op in OPERATIONS if op.resource is not None}
RESOURCE_PATHS = {resource.param: resource.collection + "/" for resource in RESOURCES}
UPDATABLE = sorted(UPDATE_BODIES)
READABLE = sorted(RESOURCE_PATHS)


@pytest.fixture
async def seeded(client: TestClient) -> tuple[Api, dict[str, str]]:
    api = await open_api(client, ADMIN_SCOPES)
    return api, await seed_all(api)


def url(param: str, ids: dict[str, str]) -> str:
    return RESOURCE_PATHS[param] + ids[param]


def test_every_single_resource_get_has_an_etag_resource() -> None:
    gets = {
        op.path
        for op in OPERATIONS
        if op.method == "GET" and op.path_params and not op.collection and op.in_schema
    }
    assert gets == {resource.path for resource in RESOURCES}
    # ... and each is the declared GET of its resource, so it carries the ETag.
    assert all(op.represents for op in OPERATIONS if op.path in gets and op.method == "GET")


@pytest.mark.parametrize("param", READABLE)
async def test_get_has_a_strong_etag_and_if_none_match_gives_304(
    seeded: tuple[Api, dict[str, str]], param: str
) -> None:
    api, ids = seeded
    response = await api.get(url(param, ids))
    assert response.status == 200
    tag = response.headers["ETag"]
    assert tag.startswith('"') and not tag.startswith("W/")
    assert (await api.get(url(param, ids))).headers["ETag"] == tag  # stable
    for value in (tag, f'"nope", {tag}', f"W/{tag}", "*"):
        cached = await api.get(url(param, ids), headers={"If-None-Match": value})
        assert cached.status == 304, value
        assert cached.headers["ETag"] == tag
        assert await cached.read() == b""
    fresh = await api.get(url(param, ids), headers={"If-None-Match": '"other"'})
    assert fresh.status == 200
    assert (await api.get(url(param, ids), headers={"If-Match": '"other"'})).status == 412


@pytest.mark.parametrize("param", UPDATABLE)
async def test_put_with_a_stale_if_match_is_412_and_changes_nothing(
    seeded: tuple[Api, dict[str, str]], param: str
) -> None:
    api, ids = seeded
    tag = (await api.get(url(param, ids))).headers["ETag"]
    before = await table_counts(api)
    for stale in ('"0000"', f"W/{tag}", '"a", "b"'):
        response = await api.put(
            url(param, ids), json=UPDATE_BODIES[param], headers={"If-Match": stale}
        )
        assert response.status == 412, await response.text()
        error = await response.json()
        assert error["error"] == "precondition_failed"
        assert [d["field"] for d in error["details"]] == ["If-Match"]
    assert await table_counts(api) == before


@pytest.mark.parametrize("param", UPDATABLE)
async def test_put_with_the_current_etag_succeeds_and_returns_the_new_one(
    seeded: tuple[Api, dict[str, str]], param: str
) -> None:
    api, ids = seeded
    tag = (await api.get(url(param, ids))).headers["ETag"]
    response = await api.put(
        url(param, ids), json=UPDATE_BODIES[param], headers={"If-Match": f'"x", {tag}'}
    )
    assert response.status == 200, await response.text()
    new_tag = response.headers["ETag"]
    assert new_tag != tag
    # The PUT's ETag is the one the next GET shows: usable for the next If-Match.
    assert (await api.get(url(param, ids))).headers["ETag"] == new_tag
    # A no-op PUT writes nothing, yet its precondition is still checked.
    noop = await api.put(url(param, ids), json=UPDATE_BODIES[param], headers={"If-Match": tag})
    assert noop.status == 412
    star = await api.put(url(param, ids), json=UPDATE_BODIES[param], headers={"If-Match": "*"})
    assert star.status == 200
    assert star.headers["ETag"] == new_tag


async def test_status_changes_honour_if_match(seeded: tuple[Api, dict[str, str]]) -> None:
    api, ids = seeded
    for param, status in (("action_id", "in_progress"), ("moc_id", "submitted")):
        path = url(param, ids) + "/status"
        tag = (await api.get(url(param, ids))).headers["ETag"]
        before = await table_counts(api)
        stale = await api.put(path, json={"status": status}, headers={"If-Match": '"old"'})
        assert stale.status == 412
        assert await table_counts(api) == before
        moved = await api.put(path, json={"status": status}, headers={"If-Match": tag})
        assert moved.status == 200
        assert moved.headers["ETag"] == (await api.get(url(param, ids))).headers["ETag"]


async def test_deletes_and_other_writes_honour_if_match(
    seeded: tuple[Api, dict[str, str]],
) -> None:
    api, ids = seeded
    before = await table_counts(api)
    stale = {"If-Match": '"old"'}
    writes = [
        ("DELETE", url("asset_id", ids)),
        ("DELETE", url("failure_mode_id", ids)),
        ("DELETE", url("webhook_id", ids)),
        ("POST", url("webhook_id", ids) + "/rotate-secret"),
        ("POST", url("webhook_id", ids) + "/test"),
    ]
    for method, path in writes:
        body = {"json": {}} if path.endswith("rotate-secret") else {}
        response = await api.request(method, path, headers=stale, **body)
        assert response.status == 412, (method, path, await response.text())
    assert await table_counts(api) == before
    tag = (await api.get(url("asset_id", ids))).headers["ETag"]
    deleted = await api.delete(url("asset_id", ids), headers={"If-Match": tag})
    assert deleted.status == 200
    assert deleted.headers["ETag"] == (await api.get(url("asset_id", ids))).headers["ETag"]
    tag = (await api.get(url("webhook_id", ids))).headers["ETag"]
    assert (await api.delete(url("webhook_id", ids), headers={"If-Match": tag})).status == 204


async def test_etag_follows_computed_fields(seeded: tuple[Api, dict[str, str]]) -> None:
    """An asset's risk ranking comes from its newest assessment: the ETag moves with it."""
    api, ids = seeded
    tag = (await api.get(url("asset_id", ids))).headers["ETag"]
    body = {"asset_id": ids["asset_id"], "probability_of_failure": 5, "consequence_of_failure": 5}
    assert (await api.post("/api/v1/risk-assessments", json=body)).status == 201
    assert (await api.get(url("asset_id", ids))).headers["ETag"] != tag


async def test_the_check_is_inside_the_write_transaction(
    seeded: tuple[Api, dict[str, str]],
) -> None:
    """Concurrent PUTs with the same If-Match: exactly one wins, the rest are 412."""
    api, ids = seeded
    tag = (await api.get(url("asset_id", ids))).headers["ETag"]
    responses = await asyncio.gather(
        *(
            api.put(url("asset_id", ids), json={"name": f"Name {n}"}, headers={"If-Match": tag})
            for n in range(6)
        )
    )
    assert sorted(r.status for r in responses) == [200] + [412] * 5


@pytest.mark.parametrize("value", ["abc", '"unterminated', 'W/"a" junk', '"a" "b"', ",", '"a b"'])
async def test_a_malformed_condition_is_a_validation_error(
    seeded: tuple[Api, dict[str, str]], value: str
) -> None:
    api, ids = seeded
    response = await api.put(url("asset_id", ids), json={"name": "x"}, headers={"If-Match": value})
    assert response.status == 400
    assert [d["field"] for d in (await response.json())["details"]] == ["If-Match"]
    response = await api.get(url("asset_id", ids), headers={"If-None-Match": value})
    assert response.status == 400


async def test_an_unknown_id_is_404_whatever_if_match_says(
    seeded: tuple[Api, dict[str, str]],
) -> None:
    api, _ = seeded
    for value in ("*", '"x"'):
        response = await api.put(
            "/api/v1/assets/ast_01ZZZZZZZZZZZZZZZZZZZZZZZZ",
            json={"name": "x"},
            headers={"If-Match": value},
        )
        assert response.status == 404


async def test_collections_carry_no_etag(seeded: tuple[Api, dict[str, str]]) -> None:
    api, _ = seeded
    assert "ETag" not in (await api.get("/api/v1/assets")).headers


@pytest.mark.parametrize("param", READABLE)
async def test_the_etag_is_the_hash_of_the_representation_as_sent(
    seeded: tuple[Api, dict[str, str]], param: str
) -> None:
    api, ids = seeded
    response = await api.get(url(param, ids))
    body = await response.read()
    # The body is {"data":<the representation>,"meta":{...}}: the tag is of those bytes.
    start, end = len(b'{"data":'), body.rindex(b',"meta":')
    assert body.startswith(b'{"data":{')
    representation = body[start:end]
    expected = '"' + hashlib.sha256(representation).hexdigest()[:40] + '"'
    assert response.headers["ETag"] == expected
    assert etags.etag_of_row(json.loads(representation)) == expected


# -- every single-resource response carries the ETag (SPEC §3) ------------------------------

# Resources created with a POST (a new webhook's 201 also shows its secret, once: its ETag
# is still the representation's, the one a GET gives).
CREATED = sorted(p for p in CREATE_PATHS if p in RESOURCE_PATHS)


@pytest.mark.parametrize("param", CREATED)
async def test_a_create_answers_with_the_etag_a_get_would_give(
    seeded: tuple[Api, dict[str, str]], param: str
) -> None:
    api, ids = seeded
    body = dict(CREATE_BODIES[param](ids))  # a copy: the table is shared with other tests
    if "tag_number" in body:
        body["tag_number"] += "-2"  # unique in the tenant
    created = await api.post(CREATE_PATHS[param], json=body)
    assert created.status == 201, await created.text()
    tag = created.headers.get("ETag")
    assert tag, "a 201 carries the new resource's ETag"
    fetched = await api.get(created.headers["Location"])
    assert fetched.headers["ETag"] == tag
    # So the client can write at once, without a GET first.
    if param in UPDATE_BODIES:
        put = await api.put(
            created.headers["Location"], json=UPDATE_BODIES[param], headers={"If-Match": tag}
        )
        assert put.status == 200, await put.text()


@pytest.mark.parametrize("param", UPDATABLE)
async def test_a_put_answers_with_the_new_etag(
    seeded: tuple[Api, dict[str, str]], param: str
) -> None:
    api, ids = seeded
    before = (await api.get(url(param, ids))).headers["ETag"]
    put = await api.put(url(param, ids), json=UPDATE_BODIES[param])
    assert put.status == 200, await put.text()
    after = (await api.get(url(param, ids))).headers["ETag"]
    assert put.headers["ETag"] == after != before


@pytest.mark.parametrize(
    ("param", "target"), [("action_id", "in_progress"), ("moc_id", "submitted")]
)
async def test_a_status_change_answers_with_the_new_etag(
    seeded: tuple[Api, dict[str, str]], param: str, target: str
) -> None:
    api, ids = seeded
    moved = await api.put(url(param, ids) + "/status", json={"status": target})
    assert moved.status == 200, await moved.text()
    assert moved.headers["ETag"] == (await api.get(url(param, ids))).headers["ETag"]


async def test_a_rotated_secret_answers_with_the_subscriptions_new_etag(
    seeded: tuple[Api, dict[str, str]],
) -> None:
    api, ids = seeded
    rotated = await api.post(url("webhook_id", ids) + "/rotate-secret", json={})
    assert rotated.status == 200, await rotated.text()
    assert "secret" in (await rotated.json())["data"]
    assert rotated.headers["ETag"] == (await api.get(url("webhook_id", ids))).headers["ETag"]
