"""The closed sets of SPEC §5 that no domain rule computes or moves.

A closed set that a rule owns lives beside that rule: inspection types and effectiveness in
`effectiveness`, FMEA priorities in `fmea`, risk rankings in `risk_matrix`, statuses with
their state machines in `lifecycle`, event types in `event_types`, permissions and key levels
in `permissions`, delivery statuses in `retry`. The sets below are only named and listed.

Each is a `StrEnum`: a member *is* its value (``AssetType.VESSEL == "vessel"``), so it can be
compared with, stored as and serialised as the plain text the API and the database carry.
Members are in the SPEC's order, which is the order OpenAPI lists them in.

This holds for the enums of every domain module: an enum's docstring is also its description
in the OpenAPI document (pydantic takes it), so it is written for API users, in Markdown;
notes for maintainers are comments.
"""

from __future__ import annotations

from enum import StrEnum


class AssetType(StrEnum):
    """An asset's `asset_type` (SPEC §5 Assets)."""

    VESSEL = "vessel"
    PIPING = "piping"
    TANK = "tank"
    HEAT_EXCHANGER = "heat_exchanger"
    ROTATING = "rotating"


class AssetStatus(StrEnum):
    """An asset's `status`: `active` unless created otherwise; DELETE sets `decommissioned`."""

    ACTIVE = "active"
    INACTIVE = "inactive"
    DECOMMISSIONED = "decommissioned"


class Criticality(StrEnum):
    """An asset's `criticality`, lowest first."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


# Not a failure mode's `action_priority` (AIAG-VDA H/M/L): that is fmea.FmeaActionPriority.
class ActionPriority(StrEnum):
    """A corrective action's `priority`, lowest first (SPEC §5 Actions)."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class AlertKind(StrEnum):
    """What raised an alert: an overdue action's SLA escalation, a webhook subscription
    the scheduler disabled (SPEC §7), or a scheduled backup that failed (§2)."""

    SLA_ESCALATION = "sla_escalation"
    WEBHOOK_DISABLED = "webhook_disabled"
    BACKUP_FAILED = "backup_failed"


class AlertSeverity(StrEnum):
    """An alert's `severity`, mildest first."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class AlertResourceType(StrEnum):
    """The kind of record an alert is about."""

    ACTION = "action"
    WEBHOOK = "webhook"
    # A scheduled backup; the alert's resource_id is its UTC timestamp name.
    BACKUP = "backup"
