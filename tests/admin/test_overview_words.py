"""The Overview's SLA levels in words, from the configured escalation days."""

from __future__ import annotations

from reliatic_appliance.admin.views.plant import level_texts


def test_escalation_levels_in_words() -> None:
    assert level_texts([7, 30]) == {
        1: "1 to 6 days past due",
        2: "7 to 29 days past due",
        3: "30 days or more past due",
    }
    assert level_texts([]) == {1: "1 day or more past due"}


def test_a_key_of_its_whole_level_reads_all_resources() -> None:
    from reliatic_appliance.admin.views.api_keys import scope_summary
    from reliatic_appliance.domain.permissions import effective_permissions

    whole = effective_permissions("read_only", [])
    assert scope_summary("read_only", whole) == (True, [])
    assert scope_summary("read_only", sorted([*whole, "audit:read"])) == (True, ["audit:read"])
    assert scope_summary("read_only", ["assets:read"]) == (False, ["assets:read"])
