"""Every closed set of the domain, as the SPEC lists it: values, order, and the old tuples.

The order is part of the contract: it is the order OpenAPI lists the values in, and some
rules read it (rankings and priorities are ascending).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

import pytest

from reliatic_appliance.domain import (
    effectiveness,
    event_types,
    fmea,
    lifecycle,
    permissions,
    retry,
    risk_matrix,
    vocabulary,
)
from reliatic_appliance.domain.lifecycle import ActionStatus, InvalidTransition, check_transition

CLOSED_SETS = [
    pytest.param(
        vocabulary.AssetType,
        ("vessel", "piping", "tank", "heat_exchanger", "rotating"),
        id="asset-type-§5",
    ),
    pytest.param(
        vocabulary.AssetStatus, ("active", "inactive", "decommissioned"), id="asset-status-§5"
    ),
    pytest.param(vocabulary.Criticality, ("low", "medium", "high", "critical"), id="criticality"),
    pytest.param(
        vocabulary.ActionPriority, ("low", "medium", "high", "critical"), id="action-priority-§5"
    ),
    pytest.param(
        vocabulary.AlertKind,
        ("sla_escalation", "webhook_disabled", "backup_failed"),
        id="alert-kind",
    ),
    pytest.param(vocabulary.AlertSeverity, ("info", "warning", "critical"), id="alert-severity"),
    pytest.param(
        vocabulary.AlertResourceType, ("action", "webhook", "backup"), id="alert-resource-type"
    ),
    pytest.param(
        effectiveness.InspectionType,
        (
            "internal_visual",
            "ut_scanning",
            "profile_radiography",
            "ut_spot",
            "external_visual",
            "pressure_test",
            "other",
        ),
        id="inspection-type-§6",
    ),
    pytest.param(effectiveness.Effectiveness, ("A", "B", "C", "D", "E"), id="effectiveness-§6"),
    pytest.param(fmea.FmeaPriority, ("low", "medium", "high", "critical"), id="fmea-priority-§6"),
    pytest.param(fmea.FmeaActionPriority, ("L", "M", "H"), id="fmea-action-priority-§6"),
    pytest.param(
        risk_matrix.RiskRanking, ("low", "medium", "medium_high", "high"), id="risk-ranking-§6"
    ),
    pytest.param(
        lifecycle.ActionStatus,
        ("open", "in_progress", "on_hold", "completed", "verified", "closed", "cancelled"),
        id="action-status-§6",
    ),
    pytest.param(
        lifecycle.MocStatus,
        (
            "draft",
            "submitted",
            "under_review",
            "approved",
            "implemented",
            "closed",
            "rejected",
            "cancelled",
        ),
        id="moc-status-§6",
    ),
    pytest.param(lifecycle.InspectionStatus, ("draft", "completed"), id="inspection-status-§5"),
    pytest.param(
        event_types.EventType,
        (
            "asset.created",
            "asset.updated",
            "asset.decommissioned",
            "inspection.completed",
            "action.status_changed",
            "risk_assessment.created",
            "fmea.rpn_changed",
            "moc.status_changed",
            "alert.escalated",
        ),
        id="event-type-§7",
    ),
    pytest.param(retry.DeliveryStatus, ("pending", "succeeded", "failed"), id="delivery-status-§7"),
    pytest.param(permissions.KeyLevel, ("read_only", "read_write"), id="key-level-§4"),
]


@pytest.mark.parametrize(("enum", "values"), CLOSED_SETS)
def test_closed_set_values_in_spec_order(enum: type[StrEnum], values: tuple[str, ...]) -> None:
    assert tuple(member.value for member in enum) == values
    for member, value in zip(enum, values, strict=True):
        # A member is its text: compared, hashed, formatted and stored as the plain value.
        assert member == value
        assert hash(member) == hash(value)
        assert f"{member}" == value
        assert type(str(member)) is str


# The tuples other modules used before the enums; each is the enum, in the enum's order.
LEGACY_TUPLES = [
    pytest.param(effectiveness.INSPECTION_TYPES, effectiveness.InspectionType, id="inspection"),
    pytest.param(
        effectiveness.EFFECTIVENESS_LEVELS, effectiveness.Effectiveness, id="effectiveness"
    ),
    pytest.param(fmea.FMEA_PRIORITIES, fmea.FmeaPriority, id="fmea-priority"),
    pytest.param(fmea.ACTION_PRIORITIES, fmea.FmeaActionPriority, id="fmea-action-priority"),
    pytest.param(risk_matrix.RISK_RANKINGS, risk_matrix.RiskRanking, id="risk-ranking"),
    pytest.param(lifecycle.ACTION_STATUSES, lifecycle.ActionStatus, id="action-status"),
    pytest.param(lifecycle.MOC_STATUSES, lifecycle.MocStatus, id="moc-status"),
    pytest.param(event_types.EVENT_TYPES, event_types.EventType, id="event-type"),
    pytest.param(permissions.LEVELS, permissions.KeyLevel, id="key-level"),
    pytest.param(permissions.ALL_PERMISSIONS, permissions.Permission, id="permission"),
]


@pytest.mark.parametrize(("legacy", "enum"), LEGACY_TUPLES)
def test_legacy_tuples_are_the_enums(legacy: tuple[str, ...], enum: type[StrEnum]) -> None:
    assert legacy == tuple(enum)


def test_ping_is_not_a_subscribable_event_type() -> None:
    # SPEC §7: `ping` is sent by the test endpoint only; nobody subscribes to it.
    assert event_types.PING not in set(event_types.EventType)


def test_permissions_are_read_and_write_per_domain_resource_then_admin() -> None:
    expected_domain = tuple(
        f"{resource}:{access}"
        for resource in permissions.DOMAIN_RESOURCES
        for access in ("read", "write")
        if access == "read" or resource in permissions.WRITABLE_RESOURCES
    )
    assert expected_domain == permissions.DOMAIN_PERMISSIONS
    assert permissions.ADMIN_PERMISSIONS == (
        "api_keys:read",
        "api_keys:write",
        "webhooks:read",
        "webhooks:write",
        "audit:read",
        "metrics:read",
    )
    assert tuple(permissions.Permission) == expected_domain + permissions.ADMIN_PERMISSIONS


RULES_RETURN_MEMBERS = [
    pytest.param(
        lambda: effectiveness.inspection_effectiveness("ut_scanning", 60),
        effectiveness.Effectiveness.A,
        id="effectiveness",
    ),
    pytest.param(lambda: fmea.fmea_priority(9, 9), fmea.FmeaPriority.CRITICAL, id="fmea-priority"),
    pytest.param(
        lambda: fmea.action_priority(9, 8, 7), fmea.FmeaActionPriority.HIGH, id="fmea-ap-table"
    ),
    pytest.param(
        lambda: fmea.action_priority(1, 1, 1), fmea.FmeaActionPriority.LOW, id="fmea-ap-other"
    ),
    pytest.param(
        lambda: risk_matrix.risk_ranking(3, 4), risk_matrix.RiskRanking.MEDIUM_HIGH, id="risk"
    ),
]


@pytest.mark.parametrize(("rule", "expected"), RULES_RETURN_MEMBERS)
def test_rules_return_members_of_their_set(rule: Callable[[], StrEnum], expected: StrEnum) -> None:
    assert rule() is expected


@pytest.mark.parametrize(
    ("current", "target"),
    [
        pytest.param("open", ActionStatus.CLOSED, id="text-to-member"),
        pytest.param(ActionStatus.OPEN, "closed", id="member-to-text"),
        pytest.param(ActionStatus.OPEN, ActionStatus.CLOSED, id="member-to-member"),
    ],
)
def test_refused_transition_reads_the_same_for_text_and_members(current: str, target: str) -> None:
    # The API hands the domain members, the database text: the message must not tell.
    with pytest.raises(InvalidTransition) as info:
        check_transition("action", current, target)
    assert str(info.value) == (
        "cannot change status from 'open' to 'closed'; "
        "allowed next: cancelled, in_progress, on_hold"
    )
    assert (info.value.current, info.value.target) == ("open", "closed")
