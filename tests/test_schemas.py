"""Closed sets in the request models: the domain's StrEnums and `OneOf` text (SPEC §3).

Bodies are validated from JSON in strict mode, where an enum field takes its values as text
and nothing else; query strings leniently, from text. Either way the model hands the service
a member that is its own text, and the error reads as a `Literal`'s would.
"""

from __future__ import annotations

import json
from typing import Any

import pydantic
import pytest
from multidict import MultiDict

from reliatic_appliance.api.parsing import parse_query
from reliatic_appliance.domain.event_types import EventType
from reliatic_appliance.domain.vocabulary import AssetStatus, AssetType
from reliatic_appliance.errors import ValidationError
from reliatic_appliance.schemas.actions import ActionListQuery
from reliatic_appliance.schemas.assets import AssetCreate, AssetListQuery
from reliatic_appliance.schemas.webhooks import WebhookCreate

ASSET = {"tag_number": "V-1", "name": "Drum", "asset_type": "vessel"}
TYPES = "'vessel', 'piping', 'tank', 'heat_exchanger' or 'rotating'"


@pytest.mark.parametrize(
    ("value", "error"),
    [
        pytest.param("tank", None, id="value"),
        pytest.param("TANK", f"Input should be {TYPES}", id="member-name"),
        pytest.param("Tank", f"Input should be {TYPES}", id="other-case"),
        pytest.param("", f"Input should be {TYPES}", id="empty"),
        pytest.param(3, f"Input should be {TYPES}", id="number"),
        pytest.param(None, f"Input should be {TYPES}", id="null"),
        pytest.param(["tank"], f"Input should be {TYPES}", id="array"),
    ],
)
def test_body_enum_from_strict_json(value: Any, error: str | None) -> None:
    raw = json.dumps({**ASSET, "asset_type": value})
    if error is None:
        body = AssetCreate.model_validate_json(raw)
        assert body.asset_type is AssetType.TANK
        assert body.status is AssetStatus.ACTIVE  # the default is a member too
        # What the idempotency fingerprint and the stored row see: the plain text.
        assert json.loads(body.model_dump_json(exclude_unset=True))["asset_type"] == "tank"
        return
    with pytest.raises(pydantic.ValidationError) as info:
        AssetCreate.model_validate_json(raw)
    assert [(e["loc"], e["msg"]) for e in info.value.errors()] == [(("asset_type",), error)]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param({"status": "inactive"}, {"status": AssetStatus.INACTIVE}, id="enum"),
        pytest.param({"sort": "-install_date"}, {"sort": "-install_date"}, id="sort-desc"),
        pytest.param({"sort": "name"}, {"sort": "name"}, id="sort-asc"),
    ],
)
def test_query_closed_sets_from_text(query: dict[str, str], expected: dict[str, Any]) -> None:
    parsed = parse_query(AssetListQuery, MultiDict(query))
    assert parsed is not None
    assert {name: getattr(parsed, name) for name in expected} == expected


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        pytest.param(
            {"status": "retired"},
            "status",
            "Input should be 'active', 'inactive' or 'decommissioned'",
            id="enum",
        ),
        pytest.param(
            {"sort": "-priority"},
            "sort",
            "Input should be 'created_at', '-created_at', 'updated_at', '-updated_at',"
            " 'due_date' or '-due_date'",
            id="sort-not-sortable",
        ),
        pytest.param(
            {"sort": "due_date "},
            "sort",
            "Input should be 'created_at', '-created_at', 'updated_at', '-updated_at',"
            " 'due_date' or '-due_date'",
            id="sort-trailing-space",
        ),
    ],
)
def test_query_closed_set_errors(query: dict[str, str], field: str, message: str) -> None:
    model = ActionListQuery if field == "sort" else AssetListQuery
    with pytest.raises(ValidationError) as info:
        parse_query(model, MultiDict(query))
    assert info.value.details == [{"field": field, "message": message}]


def test_webhook_events_from_python_values() -> None:
    # `reliatic webhook add` validates its arguments as Python values, not JSON: the event
    # list must still take the types as text (a strict enum would want members).
    url = "https://cmms.plant.local/hook"
    body = WebhookCreate.model_validate({"url": url, "events": ["asset.updated"]})
    assert body.events == [EventType.ASSET_UPDATED]
    with pytest.raises(pydantic.ValidationError) as info:
        WebhookCreate.model_validate({"url": url, "events": ["asset.updated", "ping"]})
    assert [e["loc"] for e in info.value.errors()] == [("events", 1)]
