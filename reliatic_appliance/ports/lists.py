"""The storage interface, lists: what a list request asks for and what it gets back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Row = dict[str, Any]


class BadCursor(ValueError):
    """An `after` value that is not a cursor of this list (a 400 for the caller)."""


@dataclass(frozen=True)
class Window:
    """One page of a list, the list's total, and the cursor to the next page (None at the
    end of the list; only worked out for `after` requests)."""

    rows: list[Row]
    total: int
    next_after: str | None = None


# -- sortable fields: what a list's `sort` may name (`-field` descending). The schemas
# validate and document them, the storage whitelists them as columns: one list each.

ASSET_SORTABLE: tuple[str, ...] = (
    "created_at",
    "updated_at",
    "tag_number",
    "name",
    "install_date",
    "design_pressure_kpa",
    "design_temperature_c",
    "nominal_thickness_mm",
    "required_thickness_mm",
    "last_inspection_date",
    "corrosion_rate_mm_per_year",
    "remaining_life_years",
    "next_inspection_due",
)
INSPECTION_SORTABLE: tuple[str, ...] = (
    "created_at",
    "updated_at",
    "inspection_date",
    "coverage_percent",
    "min_measured_thickness_mm",
)
FAILURE_MODE_SORTABLE: tuple[str, ...] = (
    "created_at",
    "updated_at",
    "rpn",
    "severity",
    "occurrence",
    "detection",
)
ACTION_SORTABLE: tuple[str, ...] = ("created_at", "updated_at", "due_date")
RISK_ASSESSMENT_SORTABLE: tuple[str, ...] = (
    "created_at",
    "updated_at",
    "assessment_date",
    "risk_score",
)
MOC_SORTABLE: tuple[str, ...] = ("created_at", "updated_at")
ALERT_SORTABLE: tuple[str, ...] = ("created_at", "updated_at", "level")
AUDIT_SORTABLE: tuple[str, ...] = ("created_at",)


# -- list filters: what a list request asks for, as plain data ------------------------------


@dataclass(frozen=True)
class AssetFilter:
    status: str | None = None
    asset_type: str | None = None
    search: str | None = None
    updated_since: str | None = None


@dataclass(frozen=True)
class ActionFilter:
    status: str | None = None
    priority: str | None = None
    assignee_id: str | None = None
    asset_id: str | None = None
    overdue: bool | None = None
    today: str | None = None  # `YYYY-MM-DD` (UTC) the overdue filter compares with
    updated_since: str | None = None


@dataclass(frozen=True)
class AlertFilter:
    kind: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    updated_since: str | None = None


@dataclass(frozen=True)
class FailureModeFilter:
    asset_id: str | None = None
    rpn_min: int | None = None
    rpn_max: int | None = None
    priority: str | None = None
    action_priority: str | None = None
    updated_since: str | None = None


@dataclass(frozen=True)
class InspectionFilter:
    asset_id: str | None = None
    inspection_type: str | None = None
    status: str | None = None
    # Inclusive bounds on inspection_date, `YYYY-MM-DD` (text order is date order).
    date_from: str | None = None
    date_to: str | None = None
    updated_since: str | None = None


@dataclass(frozen=True)
class MocFilter:
    status: str | None = None
    asset_id: str | None = None
    updated_since: str | None = None


@dataclass(frozen=True)
class RiskAssessmentFilter:
    asset_id: str | None = None
    risk_ranking: str | None = None
    updated_since: str | None = None


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None
    updated_since: str | None = None
