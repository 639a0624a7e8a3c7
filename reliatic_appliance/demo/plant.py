"""Deterministic generator of a realistic demo refinery (what ``reliatic demo`` loads).

Pure and stdlib-only: no I/O, no clock (``today`` is passed in), randomness only from
``random.Random(seed)``. Records use the REST API's field names; cross references are list
indices (``asset_ref``, ``failure_mode_ref``). Actions and MOCs carry a ``status_path``: the
statuses they move through after being created as ``open`` / ``draft``.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

from reliatic_appliance.domain.fmea import fmea_priority, rpn
from reliatic_appliance.domain.risk_matrix import risk_ranking

Rec = dict[str, Any]
Fluid = tuple[str, str, int]


@dataclass(frozen=True)
class DemoPlant:
    """Generated records; ``*_ref`` fields are indices into :attr:`assets` / ``failure_modes``."""

    assets: list[Rec]
    inspections: list[Rec]
    failure_modes: list[Rec]
    actions: list[Rec]
    risk_assessments: list[Rec]
    mocs: list[Rec]


# fmt: off
# unit: location, tag digit, unit weight, type weights (vessel, piping, tank, heat_exchanger,
# rotating), fluids "name:line code:max operating C", then "|"-separated vessels, exchangers,
# pumps, compressors, tanks. An equipment name picks the fluid sharing a word with it, or the
# fluid number after "@", else the unit's first fluid.
_UNIT_DATA: dict[str, tuple[str, int, int, tuple[int, ...], str, str, str, str, str, str]] = {
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
_MAKERS = {
    "vessel": "Larsen & Toubro|Doosan Enerbility|CB&I|Nooter/Eriksen|Godrej",
    "piping": "Tenaris|Vallourec|Nippon Steel|Sandvik",
    "tank": "CB&I|Matrix Service|McDermott",
    "heat_exchanger": "Alfa Laval|Kelvion|Chart Industries|Koch Heat Transfer",
    "pump": "Sulzer|Flowserve|KSB|Ruhrpumpen",
    "compressor": "Elliott|Dresser-Rand|Atlas Copco|Burckhardt Compression",
}
_INSPECTORS = {
    "vessel": "J. Okafor (API 510)|D. Alvarez (API 510)",
    "heat_exchanger": "J. Okafor (API 510)|H. Nakamura (API 510)",
    "piping": "M. Lindqvist (API 570)|A. Rahman (API 570)",
    "tank": "R. Patel (API 653)|L. Brennan (API 653)",
    "ut_scanning": "S. Moreau (ASNT UT Level II)|P. Nowak (ASNT UT Level III)",
    "profile_radiography": "K. Tanaka (ASNT RT Level II)",
}
_CRIT_WEIGHTS = {"H2": (0, 2, 4, 4), "SW": (1, 3, 4, 2), "AM": (1, 4, 3, 1), "HC": (2, 4, 3, 1),
                 "PG": (1, 4, 3, 1), "ST": (2, 4, 2, 1), "BW": (4, 4, 1, 0), "CW": (5, 3, 1, 0),
                 "FG": (3, 4, 2, 0), "IA": (5, 3, 1, 0)}
_RBI_MECHS = {"HC": "Thinning; CUI", "H2": "Thinning; Wet H2S damage (HIC/SOHIC); HTHA",
              "SW": "Wet H2S damage (HIC/SOHIC); Thinning", "AM": "Amine SCC; Thinning",
              "ST": "Thinning; Thermal fatigue", "BW": "Thinning; Oxygen pitting",
              "CW": "Thinning; MIC", "PG": "Thinning; Wet H2S damage", "FG": "Thinning; CUI",
              "IA": "Thinning; Atmospheric corrosion"}
# key: mechanism | description | effect ({fluid}) | cause | current controls
_FM_LIB = {k: tuple(v.split(" | ")) for k, v in {
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
_ACTION_TITLES = {
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
_ACTION_PATHS = {
    "open": [], "in_progress": ["in_progress"], "on_hold": ["in_progress", "on_hold"],
    "completed": ["in_progress", "completed"], "verified": ["in_progress", "completed", "verified"],
    "closed": ["in_progress", "completed", "verified", "closed"],
    "cancelled": ["on_hold", "cancelled"],
}
_ACTION_MIX = ("open " * 14 + "in_progress " * 12 + "on_hold " * 5 + "completed " * 6
               + "verified " * 4 + "closed " * 14 + "cancelled " * 5).split()
_MOC_PATHS = {
    "draft": [], "submitted": ["submitted"], "under_review": ["submitted", "under_review"],
    "approved": ["submitted", "under_review", "approved"],
    "implemented": ["submitted", "under_review", "approved", "implemented"],
    "closed": ["submitted", "under_review", "approved", "implemented", "closed"],
    "rejected": ["submitted", "under_review", "rejected"], "cancelled": ["submitted", "cancelled"],
}
# title (with {tag}) @ asset type it applies to (none: plant-wide)
_MOC_TITLES = """Upgrade {tag} metallurgy from carbon steel to 5Cr-0.5Mo@piping
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
_ASSIGNEES = ["u-jsmith", "u-aokafor", "u-mlindqvist", "u-rpatel", "u-kchen", "u-dalvarez"]
_REQUESTERS = ["A. Okafor", "M. Lindqvist", "R. Patel", "K. Chen", "S. Haddad"]
_CURATED_SOD = [(9, 2, 2), (10, 5, 7), (8, 7, 6), (7, 5, 6), (6, 5, 4), (5, 3, 3), (7, 3, 5),
                (8, 9, 3), (4, 2, 6), (6, 8, 7), (5, 6, 5), (3, 8, 8)]
# fmt: on
_TYPES = ("vessel", "piping", "tank", "heat_exchanger", "rotating")
_CRITS = ("low", "medium", "high", "critical")
_THICK_TYPES = ("internal_visual", "ut_scanning", "profile_radiography", "ut_spot")
_PIPE_SCHEDULES = [3.91, 5.49, 6.02, 7.11, 8.18, 9.27, 11.13, 12.7, 15.09]
_STOP = {"and", "oil", "gas", "water", "feed", "hp"}
_RISK_FIX = {"low": (1, 1), "medium": (3, 3), "medium_high": (4, 3), "high": (5, 5)}


def _split(s: str) -> list[str]:
    return s.split("|") if s else []


def _fluids(unit: str) -> list[Fluid]:
    out = []
    for item in _split(_UNIT_DATA[unit][4]):
        name, code, tmax = item.split(":")
        out.append((name, code, int(tmax)))
    return out


def _pick(rng: random.Random, names: list[str], fluids: list[Fluid]) -> tuple[str, Fluid]:
    """Random equipment name and the fluid it handles (``@k`` index, else shared word)."""
    name, _, k = rng.choice(names).partition("@")
    if k:
        return name, fluids[int(k)]
    words = set(name.lower().replace("/", " ").split())
    score = [len((set(f[0].lower().split()) - _STOP) & words) for f in fluids]
    return name, fluids[score.index(max(score))]


def _iso(d: dt.date) -> str:
    return d.isoformat()


def _years(a: dt.date, b: dt.date) -> float:
    return (b - a).days / 365.25


def _asset(
    rng: random.Random,
    kind: str,
    unit: str,
    fluid: Fluid,
    name: str,
    tag: str,
    install: dt.date,
    head: str,
) -> Rec:
    """One asset record; ``head`` starts the description. Thickness fields for static kinds."""
    _fname, code, tmax = fluid
    hi = code == "H2"
    nom = ca = req = None
    if kind == "rotating":
        comp = tag.startswith("C-")
        lo_hi = (10000, 15000) if comp and hi else (1000, 4000) if comp else (1500, 5000)
        dp = round(rng.uniform(*lo_hi), -1)
        mat = rng.choice(["ASTM A216 WCB", "ASTM A743 CA6NM", "ASTM A890 4A"])
        maker = rng.choice(_split(_MAKERS["compressor" if comp else "pump"]))
    elif kind == "tank":
        dp = round(rng.uniform(5, 20), 1)
        nom, ca = round(rng.uniform(6, 20), 1), rng.choice([1.5, 2.0, 3.0])
        mat = "SA-240 304L" if "Demin" in name else rng.choice(["A36", "A36", "A283 Gr.C"])
    elif kind == "piping":
        dp = round(rng.uniform(6000, 10000) if hi else rng.uniform(700, 5000), -1)
        nom = rng.choice(_PIPE_SCHEDULES[3:] if dp > 4000 else _PIPE_SCHEDULES[:7])
        ca = min(rng.choice([1.5, 1.6, 3.0, 3.2]), max(1.5, round(0.4 * nom, 1)))
        if code == "HC" and tmax > 300:
            mat = "SA-335 P5"
        elif hi and tmax > 300:
            mat = "SA-312 TP321"
        else:
            by_code = {"SW": "SA-790 S31803", "ST": "SA-335 P11"}
            mat = by_code.get(code) or rng.choice(["SA-106 Gr.B"] * 3 + ["SA-312 TP316L"])
    else:
        dp = round(rng.uniform(8000, 15000) if hi else rng.uniform(500, 4000), -1)
        base = 10 + dp / 15000 * 50 if kind == "vessel" else 8 + dp / 15000 * 20
        nom, ca = round(base + rng.uniform(0, 8), 1), rng.choice([3.0, 3.2, 4.5, 6.0])
        if hi and tmax > 300:
            mat = "SA-387 Gr.11 Cl.2"
        elif code in ("SW", "CW") and kind == "heat_exchanger":
            mat = "SA-790 S31803"
        else:
            mat = rng.choice(["SA-516 Gr.70"] * 3 + ["SA-240 304L"])
    if nom is not None and ca is not None:  # static equipment
        maker = rng.choice(_split(_MAKERS[kind]))
        req = round(nom - ca - rng.uniform(0.05, 0.2) * nom, 2)
    dtemp = float(round((tmax + 25) / 5) * 5)
    return {
        "tag_number": tag,
        "name": name,
        "asset_type": kind,
        "description": f"{head} on {unit}; design {dp:g} kPa(g) at {dtemp:g} C, {mat}.",
        "status": "active",
        "location": _UNIT_DATA[unit][0],
        "unit": unit,
        "manufacturer": maker,
        "material": mat,
        "install_date": _iso(install),
        "design_pressure_kpa": float(dp),
        "design_temperature_c": dtemp,
        "nominal_thickness_mm": None if nom is None else float(nom),
        "required_thickness_mm": req,
        "corrosion_allowance_mm": None if ca is None else float(ca),
        "criticality": rng.choices(_CRITS, weights=_CRIT_WEIGHTS[code])[0],
        "_code": code,
        "_fluid": _fname,
    }


def _build_assets(rng: random.Random, today: dt.date, count: int) -> list[Rec]:
    assets: list[Rec] = []
    counters: dict[str, int] = {}
    units = list(_UNIT_DATA)
    max_year = min(2022, today.year - 3)

    def nxt(key: str) -> int:
        counters[key] = counters.get(key, 0) + 1
        return counters[key]

    while len(assets) < count:
        unit = rng.choices(units, weights=[_UNIT_DATA[u][2] for u in units])[0]
        _loc, digit, _w, tw, _f, v_s, e_s, p_s, c_s, t_s = _UNIT_DATA[unit]
        fluids = _fluids(unit)
        vessels, exch, pumps, comps, tanks = map(_split, (v_s, e_s, p_s, c_s, t_s))
        kind = rng.choices(_TYPES, weights=tw)[0]
        year = rng.choice([rng.randint(1975, 1985), rng.randint(1975, max_year)])
        install = dt.date(min(year, max_year), rng.randint(1, 12), rng.randint(1, 28))
        if kind == "rotating" and comps and rng.random() < 0.25:
            name, fluid = _pick(rng, comps, fluids)
            head = f"{name} in {fluid[0]} service"
            items = [(f"C-{digit}{nxt(f'C{digit}'):02d}", name, head)]
        elif kind == "rotating":
            name, fluid = _pick(rng, pumps, fluids)
            n = nxt(f"P{digit}")
            head = f"API 610 centrifugal pump in {fluid[0]} service, {{}} of an A/B pair"
            items = [
                (f"P-{digit}{n:02d}{s}", f"{name} {s}", head.format(role))
                for s, role in (("A", "main"), ("B", "installed spare"))
            ]
        elif kind == "piping":
            fluid = rng.choice(fluids)
            size = rng.choice([2, 3, 4, 6, 8, 10, 12, 16, 20])
            ends = rng.sample([e.partition("@")[0] for e in vessels + exch + tanks], 2)
            name = f'{size}" ' + " ".join(w[0].upper() + w[1:] for w in fluid[0].split()) + " Line"
            tag = f"P-{digit}{nxt(f'L{digit}') + 100:03d}-{fluid[1]}"
            items = [(tag, name, f"{size}-inch {fluid[0]} line from {ends[0]} to {ends[1]}")]
        else:
            names, prefix = {
                "vessel": (vessels, "V"),
                "heat_exchanger": (exch, "E"),
                "tank": (tanks, "TK"),
            }[kind]
            name, fluid = _pick(rng, names, fluids)
            key = prefix if kind == "tank" else f"{prefix}-{digit}"
            tag = f"{key}-{nxt(key):02d}" if kind == "tank" else f"{key}{nxt(key):02d}"
            items = [(tag, name, f"{name} in {fluid[0]} service")]
        first = _asset(rng, kind, unit, fluid, items[0][1], items[0][0], install, items[0][2])
        assets.append(first)
        for tag, name, head in items[1 : count - len(assets) + 1]:  # B pump: same make/model
            desc = first["description"].replace(items[0][2], head)
            assets.append({**first, "tag_number": tag, "name": name, "description": desc})
    seen: dict[str, int] = {}
    for a in assets:
        seen[a["name"]] = seen.get(a["name"], 0) + 1
        if seen[a["name"]] > 1 and a["asset_type"] not in ("rotating", "piping"):
            a["name"] = f"{a['name']} No. {seen[a['name']]}"
    return assets


_INSP_KINDS = {
    "piping": ["ut_spot", "profile_radiography", "ut_scanning", "external_visual"],
    "tank": ["internal_visual", "ut_spot", "external_visual", "other"],
    "vessel": ["internal_visual", "ut_spot", "ut_scanning", "external_visual"],
    "heat_exchanger": ["internal_visual", "ut_spot", "pressure_test", "other"],
}
_NO_READING = {
    "external_visual": "Coating breakdown and light surface rust; insulation jacketing intact.",
    "pressure_test": "Hydrotest at 1.3 x MAWP held 30 min; no leaks.",
    "other": "Settlement survey and cathodic protection readings within limits.",
}


def _coverage(rng: random.Random, itype: str) -> float | None:
    span = {
        "internal_visual": (40, 95),
        "ut_scanning": (10, 80),
        "profile_radiography": (5, 40),
        "ut_spot": (0.5, 8),
        "external_visual": (80, 100),
        "pressure_test": (100, 100),
    }
    return round(rng.uniform(*span[itype]), 1) if itype in span else None


def _findings(reading: float | None, req: float, itype: str) -> str:
    if reading is None:
        return _NO_READING[itype]
    if reading <= req:
        return f"Min. {reading:.2f} mm vs t-req {req:.2f} mm; FFS assessment required."
    if reading - req <= 1.0:
        return f"Localized thinning, min. {reading:.2f} mm; within 1 mm of t-req {req:.2f} mm."
    return f"General thinning, min. {reading:.2f} mm; within corrosion allowance."


def _inspections(
    rng: random.Random, today: dt.date, assets: list[Rec], below: set[int], near: set[int]
) -> list[Rec]:
    """3-6 inspections per static asset; wall loss starts at an onset date, then a fixed rate."""
    out: list[Rec] = []
    for i, a in enumerate(assets):
        if a["asset_type"] == "rotating":
            continue
        install = dt.date.fromisoformat(a["install_date"])
        n = rng.randint(3, 6)
        span = (today - install).days
        end = today - dt.timedelta(days=rng.randint(10, max(11, min(1400, span // 3))))
        gap = dt.timedelta(days=n * rng.randint(700, 1600))
        first = max(install + dt.timedelta(days=60), end - gap)
        step = (end - first).days / (n - 1)
        dates = [
            first
            + dt.timedelta(days=round(k * step + (rng.randint(-20, 20) if 0 < k < n - 1 else 0)))
            for k in range(n)
        ]
        nom, req = a["nominal_thickness_mm"], a["required_thickness_mm"]
        t0 = round(nom - rng.uniform(0, 0.04) * nom, 2)  # mill under-tolerance
        room = t0 - req
        years_avail = max(_years(install, end), 0.5)
        rate = 0.05 + 0.35 * rng.random() ** 1.5  # mm/y once corrosion is active
        if i in below or i in near:
            loss = room + rng.uniform(0.0, 0.5) if i in below else room - rng.uniform(0.1, 0.9)
            rate = min(0.8, max(rate, loss / years_avail))
        else:  # stays >= 1.2 mm above t-req; the last readings still show the active rate
            cap = max(0.1, room - 1.2)
            need = rate * _years(dates[1], end)
            loss = min(rate * years_avail, cap, max(need, rng.uniform(0.4, 1.0) * cap))
        onset = end - dt.timedelta(days=round(loss / rate * 365.25))
        prev = nom
        for k, d in enumerate(dates):
            last = k == n - 1
            if 0 < k < n - 1:
                itype = rng.choice(_INSP_KINDS[a["asset_type"]])
            elif a["asset_type"] == "tank":
                itype = rng.choice(["internal_visual", "ut_spot"])
            else:
                itype = "ut_scanning" if last else rng.choice(["internal_visual", "ut_spot"])
            reading = None
            if itype in _THICK_TYPES:
                true = t0 - rate * max(0.0, _years(onset, d))
                noise = 0.0 if last else rng.uniform(-0.05, 0.05)
                reading = round(max(0.0, min(prev, nom, true + noise)), 2)
                prev = reading
            draft = last and i % 37 == 5 and i not in below | near
            who = _split(_INSPECTORS.get(itype, _INSPECTORS[a["asset_type"]]))
            out.append(
                {
                    "asset_ref": i,
                    "inspection_type": itype,
                    "inspection_date": _iso(d),
                    "inspector_name": rng.choice(who),
                    "coverage_percent": _coverage(rng, itype),
                    "status": "draft" if draft else "completed",
                    "findings": "Preliminary: report pending review."
                    if draft
                    else _findings(reading, req, itype),
                    "min_measured_thickness_mm": reading,
                }
            )
    return out


def _fm_keys(a: Rec) -> list[str]:
    kind, code, t = a["asset_type"], a["_code"], a["design_temperature_c"]
    if kind == "rotating":
        return (
            ["valve", "bearing"] if a["tag_number"].startswith("C-") else ["seal", "bearing", "cav"]
        )
    keys = {"tank": ["tankbot"], "heat_exchanger": ["fouling", "eros"]}.get(kind, ["eros", "fat"])
    if 50 <= t <= 200 and kind != "tank":
        keys.append("cui")
    if code == "HC" and t > 285:
        keys.append("sulf")
    return keys + {"SW": ["wh2s"], "H2": ["wh2s"], "AM": ["amine"]}.get(code, [])


def _failure_modes(rng: random.Random, assets: list[Rec], watch: set[int]) -> list[Rec]:
    """FMEA rows; the first ones use curated S/O/D so every priority and AP band appears."""
    out: list[Rec] = []
    for i, a in enumerate(assets):
        rot = a["asset_type"] == "rotating"
        if a["status"] == "decommissioned" or (not rot and i not in watch and rng.random() > 0.4):
            continue
        keys = _fm_keys(a)
        for key in rng.sample(keys, min(len(keys), rng.randint(1, 2) if rot else 1)):
            mech, desc, effect, cause, ctrl = _FM_LIB[key]
            if len(out) < len(_CURATED_SOD):
                s, o, d = _CURATED_SOD[len(out)]
            else:
                s = rng.choice([3, 4, 5, 6, 6, 7, 7, 8, 8, 9])
                o, d = rng.randint(2, 7), rng.randint(2, 8)
            out.append(
                {
                    "asset_ref": i,
                    "description": f"{desc} on {a['tag_number']}",
                    "severity": s,
                    "occurrence": o,
                    "detection": d,
                    "failure_mechanism": mech,
                    "effect": effect.format(fluid=a["_fluid"]),
                    "cause": cause,
                    "current_controls": ctrl,
                }
            )
    return out


def _actions(
    rng: random.Random,
    today: dt.date,
    assets: list[Rec],
    fms: list[Rec],
    below: set[int],
    near: set[int],
) -> list[Rec]:
    """~60 actions: wall-loss follow-ups, plant-wide items, then the worst FMEA rows."""
    specs: list[tuple[str, str, str, int | None, int | None]] = []
    for i in sorted(below) + sorted(near):
        tag = assets[i]["tag_number"]
        if i in below:
            specs.append(
                (
                    f"API 579 Level 1 FFS and repair plan for {tag}",
                    "critical",
                    "Latest UT reading is at or below required thickness.",
                    i,
                    None,
                )
            )
        else:
            specs.append(
                (
                    f"Increase UT monitoring frequency on {tag}",
                    "high",
                    "Remaining wall within 1 mm of required thickness.",
                    i,
                    None,
                )
            )
    specs += [
        ("Update IOW for crude overhead chlorides", "medium", "Align with API RP 584.", None, None),
        ("Train operators on seal pot checks", "low", "Toolbox talk for all shifts.", None, None),
        ("Review RBI plan after turnaround", "medium", "Re-run API RP 581 models.", None, None),
    ]
    order = sorted(
        range(len(fms)),
        key=lambda j: -rpn(fms[j]["severity"], fms[j]["occurrence"], fms[j]["detection"]),
    )
    for j in order:
        fm = fms[j]
        tag = assets[fm["asset_ref"]]["tag_number"]
        # An FMEA priority and an action priority share their names (low .. critical).
        prio: str = fmea_priority(
            fm["severity"], rpn(fm["severity"], fm["occurrence"], fm["detection"])
        )
        specs.append(
            (
                _ACTION_TITLES[fm["failure_mechanism"]].format(tag=tag),
                prio,
                f"Mitigate {fm['failure_mechanism']}: {fm['cause']}.",
                fm["asset_ref"],
                j,
            )
        )
    finals, mix = list(_ACTION_PATHS), _ACTION_MIX[:]
    rng.shuffle(mix)
    out: list[Rec] = []
    for n, (title, prio, desc, aref, fref) in enumerate(specs[:60]):
        final = finals[n % len(finals)] if n < 2 * len(finals) else mix[n % len(mix)]
        path = list(_ACTION_PATHS[final])
        if final == "closed" and rng.random() < 0.3:  # rework loop
            path = ["in_progress", "completed", "in_progress", "completed", "verified", "closed"]
        if final == "cancelled" and rng.random() < 0.5:
            path = ["cancelled"]
        if final in ("open", "in_progress", "on_hold"):
            delta = -rng.randint(1, 90) if rng.random() < 0.6 else rng.randint(7, 180)
        else:
            delta = -rng.randint(10, 400)
        out.append(
            {
                "title": title,
                "priority": prio,
                "description": desc,
                "asset_ref": aref,
                "failure_mode_ref": fref,
                "assignee_id": rng.choice(_ASSIGNEES),
                "due_date": _iso(today + dt.timedelta(days=delta)),
                "status_path": path,
            }
        )
    return out


def _risks(rng: random.Random, today: dt.date, assets: list[Rec], insp: list[Rec]) -> list[Rec]:
    """One RBI assessment per static asset (some also an older one); PoF from remaining wall."""
    latest: dict[int, float] = {}
    for r in insp:
        if r["min_measured_thickness_mm"] is not None:
            latest[r["asset_ref"]] = r["min_measured_thickness_mm"]
    out: list[Rec] = []
    for i, a in enumerate(assets):
        if i not in latest or a["status"] == "decommissioned":
            continue
        nom, req = a["nominal_thickness_mm"], a["required_thickness_mm"]
        frac = (latest[i] - req) / (nom - req)
        pof = 5 if frac <= 0 else 4 if frac < 0.3 else 3 if frac < 0.55 else 2 if frac < 0.8 else 1
        pof = max(1, min(5, pof + rng.choice([0, 0, 0, 1, -1])))
        cof = max(1, min(5, _CRITS.index(a["criticality"]) + 1 + rng.choice([0, 0, 1])))
        mech = _RBI_MECHS[a["_code"]]
        if a["asset_type"] == "tank":
            mech = "Thinning; Soil-side corrosion; Product-side pitting"
        install = dt.date.fromisoformat(a["install_date"])
        when = today - dt.timedelta(days=rng.randint(30, 700))
        row = {"asset_ref": i, "assessed_by": "RBI team (API RP 581)", "damage_mechanisms": mech}
        if rng.random() < 0.2 and (when - install).days > 6 * 365:
            prev = when - dt.timedelta(days=rng.randint(4 * 365, 6 * 365))
            out.append(
                {
                    **row,
                    "probability_of_failure": max(1, pof - 1),
                    "consequence_of_failure": cof,
                    "assessment_date": _iso(prev),
                    "notes": "Previous RBI cycle; superseded.",
                }
            )
        out.append(
            {
                **row,
                "probability_of_failure": pof,
                "consequence_of_failure": cof,
                "assessment_date": _iso(when),
                "notes": "Inspection plan updated to meet RBI risk target.",
            }
        )
    have = {risk_ranking(r["probability_of_failure"], r["consequence_of_failure"]) for r in out}
    for rank, (p, c) in _RISK_FIX.items():
        if rank not in have and out:
            r = out[rng.randrange(len(out))]
            r["probability_of_failure"], r["consequence_of_failure"] = p, c
    return out


def _mocs(rng: random.Random, today: dt.date, assets: list[Rec]) -> list[Rec]:
    out: list[Rec] = []
    finals, used = list(_MOC_PATHS), set()
    for n, line in enumerate(_MOC_TITLES):
        title, _, kind = line.partition("@")
        pool = [
            i
            for i, a in enumerate(assets)
            if a["asset_type"] == kind and a["status"] == "active" and i not in used
        ]
        ref = rng.choice(pool) if pool else None
        used.add(ref)
        title = title.format(tag=assets[ref]["tag_number"] if ref is not None else "equipment")
        final = finals[n] if n < len(finals) else rng.choice(finals)
        path = list(_MOC_PATHS[final])
        if final == "draft" and rng.random() < 0.5:
            path = ["submitted", "under_review", "rejected", "draft"]  # sent back for rework
        raised = _iso(today - dt.timedelta(days=rng.randint(5, 400)))
        out.append(
            {
                "title": title,
                "asset_ref": ref,
                "requested_by": rng.choice(_REQUESTERS),
                "description": f"{title}. Raised {raised}; needs HAZOP review and PSSR.",
                "status_path": path,
            }
        )
    return out


def generate_plant(*, seed: int = 2026, today: dt.date, asset_count: int = 240) -> DemoPlant:
    """Build the demo plant; the same ``seed`` and ``today`` always give identical output."""
    rng = random.Random(seed)
    assets = _build_assets(rng, today, asset_count)
    idx = list(range(len(assets)))
    dec = set(rng.sample(idx, min(3, len(assets) // 20)))
    inact = set(rng.sample([i for i in idx if i not in dec], len(assets) // 25))
    for i in idx:
        assets[i]["status"] = (
            "decommissioned" if i in dec else "inactive" if i in inact else "active"
        )
    old = [
        i
        for i in idx
        if assets[i]["nominal_thickness_mm"] is not None
        and assets[i]["status"] == "active"
        and _years(dt.date.fromisoformat(assets[i]["install_date"]), today) >= 15
        and assets[i]["nominal_thickness_mm"] - assets[i]["required_thickness_mm"]
        < 0.6 * (_years(dt.date.fromisoformat(assets[i]["install_date"]), today) - 5)
    ]
    picks = rng.sample(old, min(len(old), 11))
    below, near = set(picks[:5]), set(picks[5:])
    inspections = _inspections(rng, today, assets, below, near)
    failure_modes = _failure_modes(rng, assets, below | near)
    actions = _actions(rng, today, assets, failure_modes, below, near)
    risks = _risks(rng, today, assets, inspections)
    mocs = _mocs(rng, today, assets)
    for a in assets:
        del a["_code"], a["_fluid"]
    return DemoPlant(assets, inspections, failure_modes, actions, risks, mocs)
