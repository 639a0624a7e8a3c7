"""Placeholder: filled in by the risk_assessments work (SPEC §5)."""

from __future__ import annotations

from reliatic_appliance.api.routes import Operation

OPERATIONS: list[Operation] = []
