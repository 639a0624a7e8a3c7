"""The in-process scheduler: webhook delivery from the outbox and housekeeping (SPEC §7)."""
