"""Placeholder: filled in by the failure_modes work (SPEC §5)."""

from __future__ import annotations

from reliatic_appliance.api.routes import Operation

OPERATIONS: list[Operation] = []
