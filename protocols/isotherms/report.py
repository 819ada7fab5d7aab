"""One report over files or a sample's isotherms: per isotherm, the basis it was read in, its
fit, uptakes, BET and warnings; per material, what holds at every temperature (BET from N2 at
77 K, isosteric heats) and, per temperature it was measured at, the capture figures: uptakes,
IAST selectivity and working capacity.

The same isotherms in any order give the same report: isotherms are sorted (material, gas,
temperature, source) before anything is chosen, and where two could give a figure the one
with more points does (then the first by source), with a warning naming the other."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ppu.core.units import Q_, to_json
from protocols.isotherms.basis import Stated, normalized
from protocols.isotherms.bet import bet, is_n2_77k
from protocols.isotherms.checks import bet_plausibility, plausibility, refuse_impossible
from protocols.isotherms.fits import (
    CAPTURE_WINDOW_BAR,
    NO_MEASURABLE_UPTAKE_MMOL_G,
    Fit,
    fit,
    measurable,
    uptake_at,
)
from protocols.isotherms.mixtures import (
    FLUE_GAS_CO2,
    SAME_TEMPERATURE_K,
    WORKING_CAPACITY_BAR,
    iast_selectivity,
    isosteric_heat,
    working_capacity,
)
from protocols.isotherms.reading import (
    Read,
    branch_points,
    gas_label,
    pygaps_said,
    short_reason,
    worth_telling,
)

CAPTURE_PRESSURES_BAR = (0.15, 1.0)


CRYOGENIC_K = 150.0  # below this an isotherm characterises (BET), it is no capture condition

#: the capture figures per temperature: (gas, pressure, key)
CAPTURE_FIGURES = (
    ("CO2", 0.15, "co2_uptake_0p15bar"),
    ("CO2", 1.0, "co2_uptake_1bar"),
    ("N2", 1.0, "n2_uptake_1bar"),
)
SELECTIVITY_METHOD = f"IAST, CO2:N2 {FLUE_GAS_CO2 * 100:g}:{100 - FLUE_GAS_CO2 * 100:g} at 1 bar"


# -- one report over files or a sample's isotherms ---------------------------------------------
def analyze(
    isos: Iterable[Read],
    *,
    stated: Stated | None = None,
    desorption_bar: float = WORKING_CAPACITY_BAR[1],
    desorption_k: float | None = None,
) -> dict[str, Any]:
    """Everything that can be computed from these isotherms, per isotherm and per material
    and temperature, with units; what cannot be computed says why. An isotherm that cannot be
    an adsorption isotherm, or whose basis is ambiguous, is BadInput naming its source."""
    entries = [_one(r, stated or Stated()) for r in isos]
    entries.sort(key=_order)
    materials: dict[str, list[dict[str, Any]]] = {}
    for e in entries:
        materials.setdefault(e["material"], []).append(e)
    per_material = [
        _material(name, group, desorption_bar, desorption_k)
        for name, group in sorted(materials.items())
    ]
    for e in entries:
        for key in [k for k in e if k.startswith("_")]:
            del e[key]
    warnings = [f"{e['source']}: {w}" for e in entries for w in e.get("warnings", [])] + [
        f"{m['material']}{where}: {w}"
        for m in per_material
        for where, ws in _placed_warnings(m)
        for w in ws
    ]
    return {"isotherms": entries, "materials": per_material, "warnings": warnings}


def _order(e: dict[str, Any]) -> tuple[Any, ...]:
    return (e["material"], e["gas"], e["temperature"]["value"], e["source"])


def _placed_warnings(m: dict[str, Any]) -> list[tuple[str, list[str]]]:
    out = [("", m.get("warnings", []))]
    for g in m.get("by_temperature", []):
        out.append((f" at {g['temperature']['value']:g} K", g.get("warnings", [])))
    return out


def _one(read: Read, stated: Stated) -> dict[str, Any]:
    """One isotherm's entry; what pyGAPS warns about meanwhile (a gas it does not know) is
    among its warnings."""
    with pygaps_said() as said:
        e = _entry(read, stated)
    e["warnings"] = list(dict.fromkeys(worth_telling(said) + e["warnings"]))
    return e


def _entry(read: Read, stated: Stated) -> dict[str, Any]:
    raw, source = read.isotherm, read.source
    e: dict[str, Any] = {
        "source": source,
        "material": str(raw.material),
        "gas": gas_label(raw),
        "temperature": to_json(Q_(float(raw.temperature), "K")),
        "status": "ok",
        "warnings": worth_telling(read.said),
    }
    if not hasattr(raw, "pressure"):  # pyGAPS read the metadata and found no points
        e.update(points=0, status="no measurable uptake", why="no data points")
        e["max_uptake"] = to_json(Q_(0.0, "mmol/g"))
        return e
    norm = normalized(raw, source, stated)
    iso = norm.isotherm
    refuse_impossible(iso, source)
    e["read_as"] = norm.read_as
    if norm.notes:
        e["notes"] = norm.notes
    p, n = branch_points(iso)
    e["points"] = len(p)
    e["branches"] = [b for b in ("ads", "des") if iso.has_branch(b)]
    e["pressure_range"] = [to_json(Q_(p[0], "bar")), to_json(Q_(p[-1], "bar"))] if p else []
    e["max_uptake"] = to_json(Q_(max(n) if n else 0.0, "mmol/g"))
    e["warnings"] += plausibility(iso)
    e["_iso"] = iso
    if not measurable(iso):
        e["status"] = "no measurable uptake"
        e["why"] = (
            f"largest uptake {max(n) if n else 0.0:.3g} mmol/g is below "
            f"{NO_MEASURABLE_UPTAKE_MMOL_G} mmol/g"
            if n
            else "no data points"
        )
        return e
    if is_n2_77k(iso):
        e["bet"] = _bet(iso)
        e["warnings"] += e["bet"].pop("_warnings", [])
        return e
    if float(iso.temperature) < CRYOGENIC_K:
        return e  # a characterisation isotherm of another kind: points only
    f = fit(iso, max_pressure_bar=CAPTURE_WINDOW_BAR)
    e["_fit"] = f
    e["fit"] = f.describe()
    e["warnings"] += f.warnings()
    uptakes = [uptake_at(iso, pb, f) for pb in CAPTURE_PRESSURES_BAR]
    e["uptakes"] = [u.describe() for u in uptakes]
    e["warnings"] += [w for u in uptakes if (w := u.warning(e["gas"]))]
    return e


def _bet(iso: Any) -> dict[str, Any]:
    try:
        b = bet(iso)
    except Exception as ex:
        return {"area": None, "why": short_reason(ex)}
    out: dict[str, Any] = {
        "area": to_json(Q_(b["area"], "m^2/g")),
        "c": b["c"],
        "n_monolayer": to_json(Q_(b["n_monolayer"], "mmol/g")),
        "range_p_p0": list(b["range"]),
        "points": b["points"],
        "corr_coef": b["corr_coef"],
        "rouquerol": b["rouquerol"],
        "criteria": b["criteria"],
        "p0": b["p0"],
        "_warnings": b["said"] + bet_plausibility(b["area"]),
    }
    if "rouquerol_area" in b:
        alt = b["rouquerol_area"]
        out["rouquerol_area"] = None if alt is None else to_json(Q_(alt, "m^2/g"))
        out["rouquerol_range_p_p0"] = list(b.get("rouquerol_range", ()))
        failed = "; ".join(k for k, ok in b["criteria"].items() if not ok)
        out["_warnings"].append(
            f"BET range fails the Rouquerol criteria ({failed}): "
            + (f"a range meeting them gives {alt:.4g} m2/g" if alt else "no range meets them")
        )
    return out


# -- per material ------------------------------------------------------------------------------
def _material(
    name: str, group: list[dict[str, Any]], desorption_bar: float, desorption_k: float | None
) -> dict[str, Any]:
    out: dict[str, Any] = {"material": name, "not_computed": {}, "warnings": []}
    if not any(e["status"] == "ok" for e in group):
        statuses = {e["status"] for e in group}
        out["status"] = (
            "no measurable uptake" if "no measurable uptake" in statuses else "not analysable"
        )
        out["why"] = "; ".join(sorted({e.get("why", "") for e in group} - {""}))
        del out["not_computed"]
        return out
    # BET: one N2 77 K isotherm gives it; more than one, the one with most points
    with_bet = [e for e in group if e.get("bet", {}).get("area")]
    if with_bet:
        chosen = _chosen(with_bet)
        out["bet_area"] = {
            **chosen["bet"]["area"],
            "temperature": chosen["temperature"],
            "source": chosen["source"],
        }
        out["warnings"] += [
            f"{e['source']} gives a BET area of {e['bet']['area']['value']:.4g} m2/g; "
            f"{chosen['source']} is taken"
            for e in with_bet
            if e is not chosen
        ]
    else:
        out["not_computed"]["bet_area"] = "needs an N2 isotherm at 77 K"
    groups = _by_temperature(group)
    heats = _heats(groups, out)
    out["heat_of_adsorption"] = {gas: _heat_json(h) for gas, h in heats.items()}
    if not heats:
        out["not_computed"]["heat_of_adsorption"] = (
            "needs isotherms of one gas at two or more temperatures"
        )
    out["by_temperature"] = [
        _at_temperature(es, heats, desorption_bar, desorption_k) for es in groups
    ]
    if not out["by_temperature"]:
        out["not_computed"]["capture"] = (
            f"needs an isotherm at {CRYOGENIC_K:g} K or above (CO2, N2 near ambient)"
        )
    if not out["not_computed"]:
        del out["not_computed"]
    return out


def _chosen(es: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The isotherm a figure comes from: most points, then the first by source."""
    return min(es, key=lambda e: (-e.get("points", 0), e["source"]))


def _by_temperature(group: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Isotherms near ambient, clustered by temperature (within SAME_TEMPERATURE_K of the
    cluster's lowest), lowest first."""
    warm = sorted(
        (e for e in group if "_iso" in e and e["temperature"]["value"] >= CRYOGENIC_K),
        key=lambda e: (e["temperature"]["value"], e["gas"], e["source"]),
    )
    clusters: list[list[dict[str, Any]]] = []
    for e in warm:
        t = e["temperature"]["value"]
        if clusters and t - clusters[-1][0]["temperature"]["value"] <= SAME_TEMPERATURE_K:
            clusters[-1].append(e)
        else:
            clusters.append([e])
    return clusters


def _per_gas(es: list[dict[str, Any]]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """One isotherm per gas at a temperature (a fitted one over one with no measurable
    uptake), and a warning for each left aside."""
    by_gas: dict[str, list[dict[str, Any]]] = {}
    for e in es:
        by_gas.setdefault(e["gas"], []).append(e)
    chosen, warnings = {}, []
    for gas, candidates in sorted(by_gas.items()):
        fitted = [e for e in candidates if "_fit" in e]
        pick = _chosen(fitted or candidates)
        chosen[gas] = pick
        warnings += [
            f"{len(candidates)} {gas} isotherms here: figures from {pick['source']}, "
            f"not {e['source']}"
            for e in candidates
            if e is not pick
        ]
    return chosen, warnings


def _heats(groups: list[list[dict[str, Any]]], out: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Isosteric heat per gas measured (with a fit) at two or more temperatures."""
    series: dict[str, list[dict[str, Any]]] = {}
    for es in groups:
        chosen, _ = _per_gas(es)
        for gas, e in chosen.items():
            if "_fit" in e:
                series.setdefault(gas, []).append(e)
    heats = {}
    for gas, es in sorted(series.items()):
        if len(es) < 2:
            continue
        try:
            heats[gas] = isosteric_heat([x["_iso"] for x in es])
        except Exception as ex:
            out["not_computed"][f"heat_of_adsorption_{gas}"] = short_reason(ex)
    return heats


def _heat_json(h: dict[str, Any]) -> dict[str, Any]:
    return {
        "median": to_json(Q_(_median(h["heat"]), "kJ/mol")),
        "loading_range": [
            to_json(Q_(h["loading"][0], "mmol/g")),
            to_json(Q_(h["loading"][-1], "mmol/g")),
        ],
        "temperatures": [to_json(Q_(t, "K")) for t in h["temperatures"]],
        "curve": {
            "loading": {"value": h["loading"], "unit": "mmol/g"},
            "heat": {"value": h["heat"], "unit": "kJ/mol"},
        },
    }


def _at_temperature(
    es: list[dict[str, Any]],
    heats: dict[str, dict[str, Any]],
    desorption_bar: float,
    desorption_k: float | None,
) -> dict[str, Any]:
    """The capture figures at one temperature: uptakes, IAST selectivity, working capacity."""
    temps = [e["temperature"]["value"] for e in es]
    kelvin = round(sum(temps) / len(temps), 2)
    chosen, warnings = _per_gas(es)
    out: dict[str, Any] = {
        "temperature": to_json(Q_(kelvin, "K")),
        "sources": sorted(e["source"] for e in es),
        "not_computed": {},
    }
    for gas, pb, key in CAPTURE_FIGURES:
        e = chosen.get(gas)
        found = [
            u
            for u in (e or {}).get("uptakes", [])
            if u["pressure"]["value"] == pb and u["uptake"] is not None
        ]
        if found:
            u = found[0]
            out[key] = {
                **u["uptake"],
                "method": u["method"],
                "extrapolated": u["extrapolated"],
                "source": e["source"],  # the isotherm read, of those at this temperature
            }
        else:
            out["not_computed"][key] = (
                f"needs a {gas} isotherm here reaching {pb:g} bar"
                if e is None or "_fit" in e
                else f"the {gas} isotherm: {e['status']}"
            )
    sel, why, sel_warnings = _selectivity(chosen.get("CO2"), chosen.get("N2"))
    if sel is not None:
        out["selectivity"] = {**sel, "temperature": out["temperature"]}
    else:
        out["not_computed"]["selectivity"] = why
    warnings += sel_warnings
    wc = _working_capacity(chosen, heats, desorption_bar, desorption_k)
    if isinstance(wc, dict):
        out["working_capacity"] = wc
    elif wc:
        out["not_computed"]["working_capacity"] = wc
    out["warnings"] = warnings
    if not out["not_computed"]:
        del out["not_computed"]
    return out


def _selectivity(
    co2: dict[str, Any] | None, n2: dict[str, Any] | None
) -> tuple[dict[str, Any] | None, str, list[str]]:
    """IAST CO2/N2 for the flue gas at 1 bar from the two fits. N2 below detection: a lower
    bound, through the same IAST with N2 as a Henry isotherm at the detection limit."""
    if co2 is None or n2 is None:
        return None, "needs CO2 and N2 isotherms at one temperature", []
    if "_fit" not in co2 or co2["_fit"].model is None:
        return None, f"the CO2 isotherm: {co2.get('why') or 'no model fits'}", []
    method = SELECTIVITY_METHOD
    weak: Fit
    if "_fit" in n2 and n2["_fit"].model is not None:
        weak = n2["_fit"]
    elif n2["status"] == "no measurable uptake" and "_iso" in n2:
        weak = _detection_limit(n2["_iso"])
        method = (
            f"lower bound: {method}, N2 below detection taken as a Henry isotherm at "
            f"{NO_MEASURABLE_UPTAKE_MMOL_G} mmol/g at its highest pressure"
        )
    else:
        return None, f"the N2 isotherm: {n2.get('why') or 'no model fits'}", []
    try:
        r = iast_selectivity(co2["_fit"], weak)
    except Exception as ex:
        return None, f"IAST failed: {short_reason(ex)}", []
    warnings = [
        f"IAST reads the {gas} fit at {at:.3g} bar, beyond its points (to {data_to:.3g} bar)"
        for i, (at, data_to) in sorted(r["extrapolated"].items())
        for gas in (("CO2", "N2")[i],)
    ]
    warnings += [
        f"IAST uses a {gas} fit that does not describe its points"
        for gas, f in (("CO2", co2["_fit"]), ("N2", weak))
        if f.poor
    ]
    return (
        {
            "value": r["selectivity"],
            "unit": "",
            "method": method,
            "co2_loading": to_json(Q_(r["loading_1"], "mmol/g")),
            "n2_loading": to_json(Q_(r["loading_2"], "mmol/g")),
            "pure_component_pressures": {
                "CO2": to_json(Q_(r["pure_pressures"][0], "bar")),
                "N2": to_json(Q_(r["pure_pressures"][1], "bar")),
            },
            "extrapolated": sorted(("CO2", "N2")[i] for i in r["extrapolated"]),
        },
        "",
        warnings,
    )


def _detection_limit(iso: Any) -> Fit:
    """A Henry isotherm through NO_MEASURABLE_UPTAKE_MMOL_G at the highest measured pressure."""
    import pygaps

    from protocols.isotherms.basis import NORMALIZED_UNITS

    p, _ = branch_points(iso)
    top = max(p) if p else 1.0
    pressures = [top * k / 4 for k in (1, 2, 3, 4)]
    floor = pygaps.PointIsotherm(
        pressure=pressures,
        loading=[NO_MEASURABLE_UPTAKE_MMOL_G * x / top for x in pressures],
        material=str(iso.material),
        adsorbate=str(iso.adsorbate),
        temperature=float(iso.temperature),
        **NORMALIZED_UNITS,
    )
    return fit(floor, models=("Henry",))


def _working_capacity(
    chosen: dict[str, dict[str, Any]],
    heats: dict[str, dict[str, Any]],
    desorption_bar: float,
    desorption_k: float | None,
) -> dict[str, Any] | str | None:
    """Working capacity of CO2 (else of the first gas fitted here)."""
    fitted = [chosen[g] for g in sorted(chosen) if "_fit" in chosen[g]]
    targets = [e for e in fitted if e["gas"] == "CO2"] or fitted
    if not targets:
        return None
    e = targets[0]
    try:
        w = working_capacity(
            e["_iso"],
            e["_fit"],
            desorption_bar=desorption_bar,
            desorption_k=desorption_k,
            heat=heats.get(e["gas"]),
        )
    except Exception as ex:
        return short_reason(ex)
    return {
        "gas": e["gas"],
        "value": w["working_capacity"],
        "unit": "mmol/g",
        "adsorption": _condition(w["adsorption"]),
        "desorption": _condition(w["desorption"]),
    }


def _median(values: Sequence[float]) -> float:
    v = sorted(values)
    k = len(v) // 2
    return v[k] if len(v) % 2 else (v[k - 1] + v[k]) / 2


def _condition(c: tuple[float, float, float, str]) -> dict[str, Any]:
    return {
        "pressure": to_json(Q_(c[0], "bar")),
        "temperature": to_json(Q_(c[1], "K")),
        "uptake": to_json(Q_(c[2], "mmol/g")),
        "method": c[3],
    }
