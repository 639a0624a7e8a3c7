"""The demo plant's assets: tagged equipment of each unit, with a design that fits its fluid.

Every draw comes from the generator's random source, in a fixed order: the same seed and
`today` give the same assets, call for call.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable

from reliatic_appliance.demo.catalogue import (
    CRIT_WEIGHTS,
    MAKERS,
    PIPE_SCHEDULES,
    STOP_WORDS,
    UNIT_DATA,
    Fluid,
    Rec,
    fluids,
    split,
)
from reliatic_appliance.domain.vocabulary import AssetStatus, AssetType, Criticality

# (tag, name, description head) of the assets one draw adds: two for an A/B pump pair.
Item = tuple[str, str, str]
# A static asset's design: pressure (kPa), nominal thickness and allowance (mm), material.
Design = tuple[float, float, float, str]


def _pick(rng: random.Random, names: list[str], unit_fluids: list[Fluid]) -> tuple[str, Fluid]:
    """Random equipment name and the fluid it handles (``@k`` index, else shared word)."""
    name, _, k = rng.choice(names).partition("@")
    if k:
        return name, unit_fluids[int(k)]
    words = set(name.lower().replace("/", " ").split())
    score = [len((set(f[0].lower().split()) - STOP_WORDS) & words) for f in unit_fluids]
    return name, unit_fluids[score.index(max(score))]


def _rotating(rng: random.Random, tag: str, hydrogen: bool) -> tuple[float, str, str]:
    """Pressure, material and maker of a pump or (tag ``C-``) compressor."""
    comp = tag.startswith("C-")
    lo_hi = (10000, 15000) if comp and hydrogen else (1000, 4000) if comp else (1500, 5000)
    dp = round(rng.uniform(*lo_hi), -1)
    mat = rng.choice(["ASTM A216 WCB", "ASTM A743 CA6NM", "ASTM A890 4A"])
    maker = rng.choice(split(MAKERS["compressor" if comp else "pump"]))
    return dp, mat, maker


def _tank(rng: random.Random, name: str) -> Design:
    dp = round(rng.uniform(5, 20), 1)
    nom, ca = round(rng.uniform(6, 20), 1), rng.choice([1.5, 2.0, 3.0])
    mat = "SA-240 304L" if "Demin" in name else rng.choice(["A36", "A36", "A283 Gr.C"])
    return dp, nom, ca, mat


def _piping(rng: random.Random, code: str, tmax: int) -> Design:
    hydrogen = code == "H2"
    dp = round(rng.uniform(6000, 10000) if hydrogen else rng.uniform(700, 5000), -1)
    nom = rng.choice(PIPE_SCHEDULES[3:] if dp > 4000 else PIPE_SCHEDULES[:7])
    ca = min(rng.choice([1.5, 1.6, 3.0, 3.2]), max(1.5, round(0.4 * nom, 1)))
    if code == "HC" and tmax > 300:
        mat = "SA-335 P5"
    elif hydrogen and tmax > 300:
        mat = "SA-312 TP321"
    else:
        by_code = {"SW": "SA-790 S31803", "ST": "SA-335 P11"}
        mat = by_code.get(code) or rng.choice(["SA-106 Gr.B"] * 3 + ["SA-312 TP316L"])
    return dp, nom, ca, mat


def _shell(rng: random.Random, kind: AssetType, code: str, tmax: int) -> Design:
    """A vessel's or a heat exchanger's design."""
    hydrogen = code == "H2"
    dp = round(rng.uniform(8000, 15000) if hydrogen else rng.uniform(500, 4000), -1)
    base = 10 + dp / 15000 * 50 if kind == AssetType.VESSEL else 8 + dp / 15000 * 20
    nom, ca = round(base + rng.uniform(0, 8), 1), rng.choice([3.0, 3.2, 4.5, 6.0])
    if hydrogen and tmax > 300:
        mat = "SA-387 Gr.11 Cl.2"
    elif code in ("SW", "CW") and kind == AssetType.HEAT_EXCHANGER:
        mat = "SA-790 S31803"
    else:
        mat = rng.choice(["SA-516 Gr.70"] * 3 + ["SA-240 304L"])
    return dp, nom, ca, mat


def _asset(
    rng: random.Random, kind: AssetType, unit: str, fluid: Fluid, item: Item, install: dt.date
) -> Rec:
    """One asset record; the item's head starts the description. Thickness for static kinds."""
    tag, name, head = item
    fluid_name, code, tmax = fluid
    nom = ca = req = None
    if kind == AssetType.ROTATING:
        dp, mat, maker = _rotating(rng, tag, code == "H2")
    else:
        if kind == AssetType.TANK:
            dp, nom, ca, mat = _tank(rng, name)
        elif kind == AssetType.PIPING:
            dp, nom, ca, mat = _piping(rng, code, tmax)
        else:
            dp, nom, ca, mat = _shell(rng, kind, code, tmax)
        maker = rng.choice(split(MAKERS[kind]))
        req = round(nom - ca - rng.uniform(0.05, 0.2) * nom, 2)
    dtemp = float(round((tmax + 25) / 5) * 5)
    return {
        "tag_number": tag,
        "name": name,
        "asset_type": kind,
        "description": f"{head} on {unit}; design {dp:g} kPa(g) at {dtemp:g} C, {mat}.",
        "status": AssetStatus.ACTIVE,
        "location": UNIT_DATA[unit][0],
        "unit": unit,
        "manufacturer": maker,
        "material": mat,
        "install_date": install.isoformat(),
        "design_pressure_kpa": float(dp),
        "design_temperature_c": dtemp,
        "nominal_thickness_mm": None if nom is None else float(nom),
        "required_thickness_mm": req,
        "corrosion_allowance_mm": None if ca is None else float(ca),
        "criticality": rng.choices(tuple(Criticality), weights=CRIT_WEIGHTS[code])[0],
        # Hidden fields for the records that follow; `generate_plant` removes them.
        "_code": code,
        "_fluid": fluid_name,
    }


def _items(
    rng: random.Random,
    kind: AssetType,
    unit: str,
    unit_fluids: list[Fluid],
    nxt: Callable[[str], int],
) -> tuple[Fluid, list[Item]]:
    """The fluid and the tagged items of one draw of `kind` in `unit`; `nxt` numbers tags."""
    _loc, digit, _w, _tw, _f, v_s, e_s, p_s, c_s, t_s = UNIT_DATA[unit]
    vessels, exch, pumps, comps, tanks = map(split, (v_s, e_s, p_s, c_s, t_s))
    if kind == AssetType.ROTATING and comps and rng.random() < 0.25:
        name, fluid = _pick(rng, comps, unit_fluids)
        head = f"{name} in {fluid[0]} service"
        return fluid, [(f"C-{digit}{nxt(f'C{digit}'):02d}", name, head)]
    if kind == AssetType.ROTATING:
        name, fluid = _pick(rng, pumps, unit_fluids)
        n = nxt(f"P{digit}")
        head = f"API 610 centrifugal pump in {fluid[0]} service, {{}} of an A/B pair"
        return fluid, [
            (f"P-{digit}{n:02d}{s}", f"{name} {s}", head.format(role))
            for s, role in (("A", "main"), ("B", "installed spare"))
        ]
    if kind == AssetType.PIPING:
        fluid = rng.choice(unit_fluids)
        size = rng.choice([2, 3, 4, 6, 8, 10, 12, 16, 20])
        ends = rng.sample([e.partition("@")[0] for e in vessels + exch + tanks], 2)
        name = f'{size}" ' + " ".join(w[0].upper() + w[1:] for w in fluid[0].split()) + " Line"
        tag = f"P-{digit}{nxt(f'L{digit}') + 100:03d}-{fluid[1]}"
        return fluid, [(tag, name, f"{size}-inch {fluid[0]} line from {ends[0]} to {ends[1]}")]
    names, prefix = {
        AssetType.VESSEL: (vessels, "V"),
        AssetType.HEAT_EXCHANGER: (exch, "E"),
        AssetType.TANK: (tanks, "TK"),
    }[kind]
    name, fluid = _pick(rng, names, unit_fluids)
    key = prefix if kind == AssetType.TANK else f"{prefix}-{digit}"
    tag = f"{key}-{nxt(key):02d}" if kind == AssetType.TANK else f"{key}{nxt(key):02d}"
    return fluid, [(tag, name, f"{name} in {fluid[0]} service")]


def build_assets(rng: random.Random, today: dt.date, count: int) -> list[Rec]:
    """`count` assets, all `active`; units and asset types drawn by the catalogue's weights."""
    assets: list[Rec] = []
    counters: dict[str, int] = {}
    units = list(UNIT_DATA)
    max_year = min(2022, today.year - 3)

    def nxt(key: str) -> int:
        counters[key] = counters.get(key, 0) + 1
        return counters[key]

    while len(assets) < count:
        unit = rng.choices(units, weights=[UNIT_DATA[u][2] for u in units])[0]
        unit_fluids = fluids(unit)
        kind = rng.choices(tuple(AssetType), weights=UNIT_DATA[unit][3])[0]
        year = rng.choice([rng.randint(1975, 1985), rng.randint(1975, max_year)])
        install = dt.date(min(year, max_year), rng.randint(1, 12), rng.randint(1, 28))
        fluid, items = _items(rng, kind, unit, unit_fluids, nxt)
        first = _asset(rng, kind, unit, fluid, items[0], install)
        assets.append(first)
        for tag, name, head in items[1 : count - len(assets) + 1]:  # B pump: same make/model
            desc = first["description"].replace(items[0][2], head)
            assets.append({**first, "tag_number": tag, "name": name, "description": desc})
    _number_repeated_names(assets)
    return assets


def _number_repeated_names(assets: list[Rec]) -> None:
    """Vessels, exchangers and tanks of the same name become "No. 2", "No. 3"..."""
    seen: dict[str, int] = {}
    for a in assets:
        seen[a["name"]] = seen.get(a["name"], 0) + 1
        if seen[a["name"]] > 1 and a["asset_type"] not in (AssetType.ROTATING, AssetType.PIPING):
            a["name"] = f"{a['name']} No. {seen[a['name']]}"
