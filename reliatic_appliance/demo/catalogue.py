"""What the demo plant is made of: units, equipment, fluids, makers, damage mechanisms, the
work that follows, and how each kind of record is spread (SPEC §5 resources, §6 rules).

Static data only, in compact text tables (``"|"`` between items, ``":"`` or ``" | "`` between
fields), and the few helpers that read them. `equipment`, `integrity` and `work` draw from
these with the generator's random source; nothing here draws.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from reliatic_appliance.domain.corrosion import DAYS_PER_YEAR
from reliatic_appliance.domain.risk_matrix import RiskRanking

Rec = dict[str, Any]  # one record, with the REST API's field names
Fluid = tuple[str, str, int]  # name, line code, max operating temperature (C)

# fmt: off
# unit: location, tag digit, unit weight, type weights (vessel, piping, tank, heat_exchanger,
# rotating), fluids "name:line code:max operating C", then "|"-separated vessels, exchangers,
# pumps, compressors, tanks. An equipment name picks the fluid sharing a word with it, or the
# fluid number after "@", else the unit's first fluid.
UNIT_DATA: dict[str, tuple[str, int, int, tuple[int, ...], str, str, str, str, str, str]] = {
    "CDU-1": ("Area 1 / Crude Unit", 1, 5, (3, 5, 0, 3, 2),
              "crude oil:HC:150|atmospheric residue:HC:365|naphtha:HC:130|kerosene:HC:230"
              "|diesel:HC:290|overhead vapour and sour water:SW:130",
              "Desalter|Preflash Drum|Atmospheric Column|Overhead Accumulator"
              "|Kerosene Side Stripper|Diesel Side Stripper",
              "Crude/Residue Exchanger|Overhead Condenser|Crude/Diesel Exchanger"
              "|Kerosene Product Cooler|Crude Preheat Exchanger",
              "Crude Charge Pump|Atmospheric Residue Pump|Overhead Reflux Pump"
              "|Naphtha Product Pump|Diesel Pumparound Pump", "", ""),
    "HDS-2": ("Area 2 / Diesel Hydrotreater", 2, 4, (3, 5, 0, 3, 2),
              "diesel feed and hydrogen:H2:380|hydrogen-rich recycle gas:H2:90|sour water:SW:80"
              "|rich amine:AM:70|hydrotreated diesel:HC:250",
              "HP Separator@1|LP Separator@2|Feed Surge Drum@0|Recycle Gas KO Drum|Amine Absorber"
              "|Product Stripper@4",
              "Feed/Effluent Exchanger|Reactor Effluent Air Cooler|Stripper Reboiler@4"
              "|Product Cooler@4",
              "Charge Pump|Stripper Bottoms Pump@4|Lean Amine Pump|Sour Water Pump",
              "Recycle Gas Compressor|Make-up Hydrogen Compressor@1", ""),
    "FCC": ("Area 3 / Fluid Catalytic Cracker", 3, 4, (3, 5, 0, 3, 2),
            "slurry oil:HC:360|FCC gasoline:HC:120|light cycle oil:HC:260|wet gas:PG:90"
            "|sour water:SW:90",
            "Main Fractionator|Wet Gas KO Drum|Overhead Receiver@1|Debutanizer@1|Slurry Settler",
            "Slurry Steam Generator|Fractionator Overhead Condenser@1|Light Cycle Oil Cooler"
            "|Debutanizer Reboiler@1",
            "Slurry Pumparound Pump|Gasoline Product Pump|Light Cycle Oil Pump|Sour Water Pump",
            "Wet Gas Compressor", ""),
    "VDU-1": ("Area 1 / Vacuum Unit", 4, 2, (3, 4, 0, 3, 2),
              "vacuum residue:HC:390|heavy vacuum gas oil:HC:320|light vacuum gas oil:HC:220"
              "|ejector condensate and sour water:SW:60",
              "Vacuum Column|Ejector Hotwell|Slop Wax Drum@1",
              "Heavy Vacuum Gas Oil Cooler|Ejector Condenser|Vacuum Residue/Crude Exchanger",
              "Vacuum Residue Pump|Heavy Vacuum Gas Oil Pump|Light Vacuum Gas Oil Pump", "", ""),
    "Tank Farm": ("Area 5 / Tank Farm", 5, 4, (0, 3, 9, 1, 1),
                  "crude oil:HC:50|gasoline:HC:40|diesel:HC:45|Jet A-1:HC:40|slop oil:HC:60",
                  "", "Crude Tank Heater",
                  "Crude Transfer Pump|Gasoline Loading Pump|Diesel Loading Pump|Slop Oil Pump",
                  "", "Crude Oil Storage Tank|Gasoline Storage Tank|Diesel Storage Tank"
                  "|Jet A-1 Storage Tank|Slop Oil Tank"),
    "Utilities": ("Area 6 / Utilities", 6, 2, (2, 3, 2, 2, 1),
                  "boiler feed water:BW:150|HP steam:ST:400|cooling water:CW:45|fuel gas:FG:60"
                  "|instrument air:IA:40|fire water:CW:40|demineralized water:BW:40",
                  "Deaerator@0|Fuel Gas KO Drum|Instrument Air Receiver|HP Steam Drum",
                  "Boiler Feed Water Preheater|Condensate Cooler@2|Fuel Gas Heater",
                  "Boiler Feed Water Pump|Cooling Water Pump|Fire Water Pump",
                  "Instrument Air Compressor", "Demineralized Water Tank|Fire Water Tank"),
}
MAKERS = {
    "vessel": "Larsen & Toubro|Doosan Enerbility|CB&I|Nooter/Eriksen|Godrej",
    "piping": "Tenaris|Vallourec|Nippon Steel|Sandvik",
    "tank": "CB&I|Matrix Service|McDermott",
    "heat_exchanger": "Alfa Laval|Kelvion|Chart Industries|Koch Heat Transfer",
    "pump": "Sulzer|Flowserve|KSB|Ruhrpumpen",
    "compressor": "Elliott|Dresser-Rand|Atlas Copco|Burckhardt Compression",
}
INSPECTORS = {
    "vessel": "J. Okafor (API 510)|D. Alvarez (API 510)",
    "heat_exchanger": "J. Okafor (API 510)|H. Nakamura (API 510)",
    "piping": "M. Lindqvist (API 570)|A. Rahman (API 570)",
    "tank": "R. Patel (API 653)|L. Brennan (API 653)",
    "ut_scanning": "S. Moreau (ASNT UT Level II)|P. Nowak (ASNT UT Level III)",
    "profile_radiography": "K. Tanaka (ASNT RT Level II)",
}
CRIT_WEIGHTS = {"H2": (0, 2, 4, 4), "SW": (1, 3, 4, 2), "AM": (1, 4, 3, 1), "HC": (2, 4, 3, 1),
                "PG": (1, 4, 3, 1), "ST": (2, 4, 2, 1), "BW": (4, 4, 1, 0), "CW": (5, 3, 1, 0),
                "FG": (3, 4, 2, 0), "IA": (5, 3, 1, 0)}
RBI_MECHS = {"HC": "Thinning; CUI", "H2": "Thinning; Wet H2S damage (HIC/SOHIC); HTHA",
             "SW": "Wet H2S damage (HIC/SOHIC); Thinning", "AM": "Amine SCC; Thinning",
             "ST": "Thinning; Thermal fatigue", "BW": "Thinning; Oxygen pitting",
             "CW": "Thinning; MIC", "PG": "Thinning; Wet H2S damage", "FG": "Thinning; CUI",
             "IA": "Thinning; Atmospheric corrosion"}
# key: mechanism | description | effect ({fluid}) | cause | current controls
FM_LIB = {k: tuple(v.split(" | ")) for k, v in {
    "cui": "CUI | External corrosion under insulation | Loss of containment of {fluid} | Damaged"
           " jacketing lets rain into insulation at 50-175 C | Insulation survey; profile RT at"
           " CUI-susceptible locations",
    "sulf": "sulfidation | High-temperature sulfidic corrosion (general thinning) | Rupture and"
            " fire in hot {fluid} service | Sulfur in feed above 260 C on low-Si carbon steel |"
            " UT at CMLs; crude sulfur IOW",
    "eros": "erosion-corrosion | Erosion-corrosion at elbows and downstream of control valves |"
            " Pinhole leak of {fluid} | High velocity with solids or two-phase flow | UT scanning"
            " of elbows every turnaround",
    "fat": "fatigue | Vibration-induced fatigue of small-bore connections | Branch failure and"
           " release of {fluid} | Pulsation and unbraced small-bore piping | Vibration survey;"
           " small-bore bracing standard",
    "wh2s": "wet H2S cracking | HIC/SOHIC in wet H2S service | Through-wall crack and toxic H2S"
            " release | Wet H2S with cyanides; non-HIC-resistant plate | WFMT and PAUT of welds"
            " per RBI plan",
    "amine": "amine stress corrosion cracking | Amine SCC at non-PWHT welds | Leak of {fluid} at"
             " weld | Residual stress at non-stress-relieved welds | WFMT of welds; PWHT of"
             " repairs",
    "tankbot": "bottom corrosion | Soil-side and product-side tank floor corrosion | Floor leak"
               " and soil contamination with {fluid} | Water bottoms and failed cathodic"
               " protection | API 653 internal inspection; MFL floor scan; CP survey",
    "fouling": "under-deposit corrosion | Tube-side under-deposit corrosion and pitting | Tube"
               " leak and cross-contamination of {fluid} | Low velocity and fouling deposits |"
               " Eddy-current tube testing at turnaround",
    "seal": "seal failure | Mechanical seal leakage | Release of {fluid}; fire risk at pump |"
            " Seal face wear, dry running, blocked flush | Seal pot level alarm; operator rounds",
    "bearing": "bearing wear | Rolling-element bearing degradation | Trip and loss of {fluid}"
               " flow | Lubricant contamination and misalignment | Monthly vibration analysis;"
               " oil sampling",
    "cav": "cavitation | Impeller cavitation damage | Reduced head and flow of {fluid} |"
           " Insufficient NPSH margin at low suction level | Suction pressure alarm",
    "valve": "valve failure | Compressor valve plate breakage | Loss of capacity and unit rate"
             " cut | Liquid carry-over and fouling | Valve temperature monitoring; KO drum trip",
}.items()}
ACTION_TITLES = {
    "CUI": "Strip insulation and inspect for CUI on {tag}",
    "sulfidation": "Add CMLs and UT for sulfidation on {tag}",
    "erosion-corrosion": "UT scan elbows and reducers on {tag}",
    "fatigue": "Brace small-bore connections on {tag}",
    "wet H2S cracking": "WFMT/PAUT of welds on {tag}",
    "amine stress corrosion cracking": "WFMT of non-PWHT welds on {tag}",
    "bottom corrosion": "MFL floor scan of {tag}",
    "under-deposit corrosion": "Eddy-current test of tube bundle {tag}",
    "seal failure": "Upgrade mechanical seal on {tag} to API 682 dual seal",
    "bearing wear": "Replace bearings and laser-align {tag}",
    "cavitation": "Review NPSH margin and suction strainer on {tag}",
    "valve failure": "Overhaul suction and discharge valves on {tag}",
}
# Final status -> the statuses an action moves through after being created `open` (SPEC §6
# action lifecycle; `reliatic demo` makes each move through the service, which checks it).
ACTION_PATHS = {
    "open": [], "in_progress": ["in_progress"], "on_hold": ["in_progress", "on_hold"],
    "completed": ["in_progress", "completed"], "verified": ["in_progress", "completed", "verified"],
    "closed": ["in_progress", "completed", "verified", "closed"],
    "cancelled": ["on_hold", "cancelled"],
}
# How often each final status is drawn, once every one has appeared twice.
ACTION_MIX = ("open " * 14 + "in_progress " * 12 + "on_hold " * 5 + "completed " * 6
              + "verified " * 4 + "closed " * 14 + "cancelled " * 5).split()
# The same for MOCs, created `draft` (SPEC §6 MOC lifecycle).
MOC_PATHS = {
    "draft": [], "submitted": ["submitted"], "under_review": ["submitted", "under_review"],
    "approved": ["submitted", "under_review", "approved"],
    "implemented": ["submitted", "under_review", "approved", "implemented"],
    "closed": ["submitted", "under_review", "approved", "implemented", "closed"],
    "rejected": ["submitted", "under_review", "rejected"], "cancelled": ["submitted", "cancelled"],
}
# title (with {tag}) @ asset type it applies to (none: plant-wide)
MOC_TITLES = """Upgrade {tag} metallurgy from carbon steel to 5Cr-0.5Mo@piping
Install permanent UT corrosion sensors on {tag}@piping
Convert {tag} seal to API 682 Plan 53B dual pressurized seal@rotating
Temporary leak-sealing clamp on {tag}@piping
Re-rate {tag} to lower MAWP after wall loss@vessel
Retube {tag} with duplex SA-790 S31803 tubes@heat_exchanger
Raise high-level alarm setpoint on {tag}@tank
Install variable-speed drive on {tag}@rotating
Change insulation system on {tag} to aerogel over TSA coating@vessel
Add wash-water injection upstream of {tag}@heat_exchanger
Increase crude sulfur IOW limit from 1.8 to 2.2 wt%@
Switch corrosion inhibitor supplier for crude overhead@
Revise RBI procedure to API RP 581 4th edition@
Extend inspection interval of {tag} based on RBI@vessel
Install secondary containment liner under {tag}@tank
Bypass vibration trip on {tag} during bearing replacement@rotating""".splitlines()
ASSIGNEES = ["u-jsmith", "u-aokafor", "u-mlindqvist", "u-rpatel", "u-kchen", "u-dalvarez"]
REQUESTERS = ["A. Okafor", "M. Lindqvist", "R. Patel", "K. Chen", "S. Haddad"]
# Severity, occurrence, detection of the first failure modes: every FMEA priority and action
# priority (SPEC §6) appears whatever the draw.
CURATED_SOD = [(9, 2, 2), (10, 5, 7), (8, 7, 6), (7, 5, 6), (6, 5, 4), (5, 3, 3), (7, 3, 5),
               (8, 9, 3), (4, 2, 6), (6, 8, 7), (5, 6, 5), (3, 8, 8)]
# fmt: on
# The inspection types that measure a wall thickness (`min_measured_thickness_mm`).
THICKNESS_TYPES = ("internal_visual", "ut_scanning", "profile_radiography", "ut_spot")
PIPE_SCHEDULES = [3.91, 5.49, 6.02, 7.11, 8.18, 9.27, 11.13, 12.7, 15.09]
# Words that do not tie a piece of equipment to a fluid ("Feed Surge Drum" and "diesel feed").
STOP_WORDS = {"and", "oil", "gas", "water", "feed", "hp"}
# A (probability, consequence) pair of each ranking, forced into the data if the draw missed
# one, so that every ranking appears; tests/test_demo_plant.py checks the pairs' rankings.
RISK_FIX = {
    RiskRanking.LOW: (1, 1),
    RiskRanking.MEDIUM: (3, 3),
    RiskRanking.MEDIUM_HIGH: (4, 3),
    RiskRanking.HIGH: (5, 5),
}

# Inspection types of the middle inspections of each asset type (the first and last are
# thickness surveys), and the findings of those that take no reading.
INSPECTION_KINDS = {
    "piping": ["ut_spot", "profile_radiography", "ut_scanning", "external_visual"],
    "tank": ["internal_visual", "ut_spot", "external_visual", "other"],
    "vessel": ["internal_visual", "ut_spot", "ut_scanning", "external_visual"],
    "heat_exchanger": ["internal_visual", "ut_spot", "pressure_test", "other"],
}
NO_READING = {
    "external_visual": "Coating breakdown and light surface rust; insulation jacketing intact.",
    "pressure_test": "Hydrotest at 1.3 x MAWP held 30 min; no leaks.",
    "other": "Settlement survey and cathodic protection readings within limits.",
}

# Coverage (%) drawn for each inspection type; none for `other`.
COVERAGE_SPANS = {
    "internal_visual": (40, 95),
    "ut_scanning": (10, 80),
    "profile_radiography": (5, 40),
    "ut_spot": (0.5, 8),
    "external_visual": (80, 100),
    "pressure_test": (100, 100),
}


def split(s: str) -> list[str]:
    """The ``"|"``-separated items of a table cell; none for an empty cell."""
    return s.split("|") if s else []


def fluids(unit: str) -> list[Fluid]:
    """The fluids of a unit, from its ``"name:line code:max C"`` items."""
    out = []
    for item in split(UNIT_DATA[unit][4]):
        name, code, tmax = item.split(":")
        out.append((name, code, int(tmax)))
    return out


def years(a: dt.date, b: dt.date) -> float:
    """Years from `a` to `b`, in the year of the corrosion rules (SPEC §6)."""
    return (b - a).days / DAYS_PER_YEAR
