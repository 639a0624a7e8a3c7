"""Placeholder: filled in by the inspections work (SPEC §5)."""

from __future__ import annotations

from reliatic_appliance.api.routes import Operation

OPERATIONS: list[Operation] = []
