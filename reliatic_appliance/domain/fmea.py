"""FMEA risk priority number, priority class and AIAG-VDA action priority (SPEC §6)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType


class FmeaPriority(StrEnum):
    """A failure mode's computed `priority`, lowest first (SPEC §6)."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


# Not a corrective action's `priority` (low..critical): that is vocabulary.ActionPriority.
class FmeaActionPriority(StrEnum):
    """A failure mode's computed `action_priority`: the AIAG-VDA action priority, `L` (low)
    to `H` (high) (SPEC §6)."""

    LOW = "L"
    MEDIUM = "M"
    HIGH = "H"


# Ascending order, so that comparisons by index read naturally. The tuples came first and
# are kept, derived, for code that iterates plain sequences; ACTION_PRIORITIES is the AP.
FMEA_PRIORITIES: tuple[FmeaPriority, ...] = tuple(FmeaPriority)
ACTION_PRIORITIES: tuple[FmeaActionPriority, ...] = tuple(FmeaActionPriority)

_SCALE_MIN, _SCALE_MAX = 1, 10
_RPN_MAX = _SCALE_MAX**3

# SPEC §6 AP table, transcribed row by row. Key: (severity band, occurrence band);
# value: the AP for detection bands in column order D 7-10, D 5-6, D 2-4, D 1.
# Any (S, O) pair not listed is the table's "any other combination" row: L throughout.
# Kept as the SPEC's letters so it reads against it cell by cell; turned into members at
# import, so a typo cannot load.
_AP_TABLE: Mapping[tuple[str, str], tuple[FmeaActionPriority, ...]] = MappingProxyType(
    {
        bands: tuple(FmeaActionPriority(letter) for letter in row)
        for bands, row in {
            ("9-10", "8-10"): "HHHH",
            ("9-10", "6-7"): "HHHH",
            ("9-10", "4-5"): "HHHM",
            ("9-10", "2-3"): "HMLL",
            ("7-8", "8-10"): "HHHH",
            ("7-8", "6-7"): "HHHM",
            ("7-8", "4-5"): "HMMM",
            ("7-8", "2-3"): "MMLL",
            ("4-6", "8-10"): "HHMM",
            ("4-6", "6-7"): "MMML",
            ("4-6", "4-5"): "MLLL",
            ("2-3", "8-10"): "MMLL",
        }.items()
    }
)


def _check_scale(name: str, value: int) -> None:
    # bool is an int subclass; True as a severity is a caller bug, not a 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer from 1 to 10, got {value!r}")
    if not _SCALE_MIN <= value <= _SCALE_MAX:
        raise ValueError(f"{name} must be an integer from 1 to 10, got {value!r}")


def rpn(severity: int, occurrence: int, detection: int) -> int:
    """Risk priority number S x O x D (1..1000). Raises ValueError outside 1..10."""
    _check_scale("severity", severity)
    _check_scale("occurrence", occurrence)
    _check_scale("detection", detection)
    return severity * occurrence * detection


def fmea_priority(severity: int, rpn: int) -> FmeaPriority:
    """``critical`` if S >= 9 or RPN >= 300, else ``high`` if RPN >= 200, else ``medium`` if
    RPN >= 100, else ``low`` (SPEC §6).

    Raises ValueError when severity is outside 1..10 or rpn outside 1..1000.
    """
    _check_scale("severity", severity)
    if isinstance(rpn, bool) or not isinstance(rpn, int) or not 1 <= rpn <= _RPN_MAX:
        raise ValueError(f"rpn must be an integer from 1 to {_RPN_MAX}, got {rpn!r}")
    if severity >= 9 or rpn >= 300:
        return FmeaPriority.CRITICAL
    if rpn >= 200:
        return FmeaPriority.HIGH
    if rpn >= 100:
        return FmeaPriority.MEDIUM
    return FmeaPriority.LOW


def _severity_band(s: int) -> str | None:
    if s >= 9:
        return "9-10"
    if s >= 7:
        return "7-8"
    if s >= 4:
        return "4-6"
    if s >= 2:
        return "2-3"
    return None  # S = 1: always the "any other" row


def _occurrence_band(o: int) -> str | None:
    if o >= 8:
        return "8-10"
    if o >= 6:
        return "6-7"
    if o >= 4:
        return "4-5"
    if o >= 2:
        return "2-3"
    return None  # O = 1: always the "any other" row


def _detection_column(d: int) -> int:
    if d >= 7:
        return 0
    if d >= 5:
        return 1
    if d >= 2:
        return 2
    return 3


def action_priority(severity: int, occurrence: int, detection: int) -> FmeaActionPriority:
    """AIAG-VDA action priority ``H``/``M``/``L`` from the SPEC §6 AP table.

    Unlike RPN, AP weighs severity first, then occurrence, then detection, so two failure modes
    with the same RPN can get different APs. Raises ValueError outside 1..10.
    """
    _check_scale("severity", severity)
    _check_scale("occurrence", occurrence)
    _check_scale("detection", detection)
    s_band = _severity_band(severity)
    o_band = _occurrence_band(occurrence)
    if s_band is None or o_band is None:
        return FmeaActionPriority.LOW
    row = _AP_TABLE.get((s_band, o_band))
    if row is None:
        return FmeaActionPriority.LOW
    return row[_detection_column(detection)]
