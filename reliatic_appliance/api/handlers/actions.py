"""Placeholder: filled in by the actions work (SPEC §5)."""

from __future__ import annotations

from reliatic_appliance.api.routes import Operation

OPERATIONS: list[Operation] = []
