"""One report over files or a sample's isotherms: per material, the fits, uptakes, BET,
selectivity, heats and working capacity it supports."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ppu.core.units import Q_, to_json
from protocols.isotherms.bet import bet, is_n2_77k
from protocols.isotherms.fits import (
    CAPTURE_WINDOW_BAR,
    NO_MEASURABLE_UPTAKE_MMOL_G,
    fit,
    measurable,
    uptake_at,
)
from protocols.isotherms.mixtures import (
    SAME_TEMPERATURE_K,
    WORKING_CAPACITY_BAR,
    iast_selectivity,
    isosteric_heat,
    working_capacity,
)
from protocols.isotherms.reading import branch_points, gas_label, normalized, short_reason

CAPTURE_PRESSURES_BAR = (0.15, 1.0)


CRYOGENIC_K = 150.0  # below this an isotherm characterises (BET), it is no capture condition


# -- one report over files or a sample's isotherms ---------------------------------------------
def analyze(
    isos: Iterable[tuple[str, Any]],
    *,
    desorption_bar: float = WORKING_CAPACITY_BAR[1],
    desorption_k: float | None = None,
) -> dict[str, Any]:
    """Everything that can be computed from these isotherms ((source, isotherm) pairs),
    per isotherm and per material, with units; what cannot be computed says why."""
    entries: list[dict[str, Any]] = []
    for source, raw in isos:
        entries.append(_one(source, raw))
    materials: dict[str, list[dict[str, Any]]] = {}
    for e in entries:
        materials.setdefault(e["material"], []).append(e)
    per_material = [
        _material(name, group, desorption_bar, desorption_k) for name, group in materials.items()
    ]
    for e in entries:
        e.pop("_iso", None)
        e.pop("_fit", None)
    return {"isotherms": entries, "materials": per_material}


def _one(source: str, raw: Any) -> dict[str, Any]:
    e: dict[str, Any] = {
        "source": source,
        "material": str(raw.material),
        "gas": gas_label(raw),
        "temperature": to_json(Q_(float(raw.temperature), "K")),
        "status": "ok",
    }
    if not hasattr(raw, "pressure"):  # pyGAPS read the metadata and found no points
        e.update(points=0, status="no measurable uptake", why="no data points")
        e["max_uptake"] = to_json(Q_(0.0, "mmol/g"))
        return e
    try:
        iso = normalized(raw)
    except Exception as ex:
        e.update(
            status="not analysable",
            why=(
                f"cannot express {raw.loading_unit} per {raw.material_unit} "
                f"({raw.material_basis} basis) in mmol/g: {short_reason(ex)}"
            ),
        )
        return e
    p, n = branch_points(iso)
    e["points"] = len(p)
    e["branches"] = [b for b in ("ads", "des") if iso.has_branch(b)]
    e["pressure_range"] = [to_json(Q_(p[0], "bar")), to_json(Q_(p[-1], "bar"))] if p else []
    e["max_uptake"] = to_json(Q_(max(n) if n else 0.0, "mmol/g"))
    if not measurable(iso):
        e["status"] = "no measurable uptake"
        e["why"] = (
            f"largest uptake {max(n) if n else 0.0:.3g} mmol/g is below "
            f"{NO_MEASURABLE_UPTAKE_MMOL_G} mmol/g"
            if n
            else "no data points"
        )
        return e
    e["_iso"] = iso
    if is_n2_77k(iso):
        try:
            b = bet(raw)
            e["bet"] = {
                "area": to_json(Q_(b["area"], "m^2/g")),
                "c": b["c"],
                "n_monolayer": to_json(Q_(b["n_monolayer"], "mmol/g")),
                "range_p_p0": list(b["range"]),
                "points": b["points"],
                "corr_coef": b["corr_coef"],
                "rouquerol": b["rouquerol"],
                "criteria": b["criteria"],
            }
            if "rouquerol_area" in b:
                e["bet"]["rouquerol_area"] = (
                    None
                    if b["rouquerol_area"] is None
                    else to_json(Q_(b["rouquerol_area"], "m^2/g"))
                )
                e["bet"]["rouquerol_range_p_p0"] = list(b.get("rouquerol_range", ()))
        except Exception as ex:
            e["bet"] = {"area": None, "why": short_reason(ex)}
        return e
    if float(iso.temperature) < CRYOGENIC_K:
        return e  # a characterisation isotherm of another kind: points only
    f = fit(iso, max_pressure_bar=CAPTURE_WINDOW_BAR)
    e["_fit"] = f
    e["fit"] = f.describe()
    e["uptakes"] = [uptake_at(iso, pb, f).describe() for pb in CAPTURE_PRESSURES_BAR]
    return e


def _material(
    name: str, group: list[dict[str, Any]], desorption_bar: float, desorption_k: float | None
) -> dict[str, Any]:
    out: dict[str, Any] = {"material": name, "not_computed": {}}
    usable = [e for e in group if "_iso" in e]
    warm = [e for e in usable if "_fit" in e]
    if not usable:
        statuses = {e["status"] for e in group}
        out["status"] = (
            "no measurable uptake" if "no measurable uptake" in statuses else "not analysable"
        )
        out["why"] = "; ".join(sorted({e.get("why", "") for e in group} - {""}))
        del out["not_computed"]
        return out
    # BET
    bets = [e["bet"]["area"] for e in usable if e.get("bet", {}).get("area")]
    if bets:
        out["bet_area"] = bets[0]
    else:
        out["not_computed"]["bet_area"] = "needs an N2 isotherm at 77 K"
    # uptakes the screening asks for
    for gas, pb, key in (
        ("CO2", 0.15, "co2_uptake_0p15bar"),
        ("CO2", 1.0, "co2_uptake_1bar"),
        ("N2", 1.0, "n2_uptake_1bar"),
    ):
        found = [
            u
            for e in warm
            if e["gas"] == gas
            for u in e["uptakes"]
            if u["pressure"]["value"] == pb and u["uptake"] is not None
        ]
        if found:
            out[key] = {**found[0]["uptake"], "method": found[0]["method"]}
        else:
            out["not_computed"][key] = f"needs a {gas} isotherm reaching {pb:g} bar"
    # heats: one per gas measured at two or more temperatures
    heats: dict[str, dict[str, Any]] = {}
    by_gas: dict[str, list[dict[str, Any]]] = {}
    for e in warm:
        by_gas.setdefault(e["gas"], []).append(e)
    for gas, es in by_gas.items():
        if len({round(x["temperature"]["value"]) for x in es}) < 2:
            continue
        try:
            heats[gas] = isosteric_heat([x["_iso"] for x in es])
        except Exception as ex:
            out["not_computed"][f"heat_of_adsorption_{gas}"] = short_reason(ex)
    out["heat_of_adsorption"] = {
        gas: {
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
        for gas, h in heats.items()
    }
    if not heats:
        out["not_computed"]["heat_of_adsorption"] = (
            "needs isotherms of one gas at two or more temperatures"
        )
    # IAST CO2/N2 at 15:85, per temperature both were measured at
    co2 = [e for e in warm if e["gas"] == "CO2" and e["_fit"].model]
    n2 = [e for e in warm if e["gas"] == "N2" and e["_fit"].model]
    pairs = [
        (c, m)
        for c in co2
        for m in n2
        if abs(c["temperature"]["value"] - m["temperature"]["value"]) <= SAME_TEMPERATURE_K
    ]
    if pairs:
        c, m = pairs[0]
        try:
            r = iast_selectivity(c["_fit"], m["_fit"])
            out["selectivity"] = {
                "value": r["selectivity"],
                "unit": "",
                "method": "IAST, CO2:N2 15:85 at 1 bar",
                "temperature": c["temperature"],
                "co2_loading": to_json(Q_(r["loading_1"], "mmol/g")),
                "n2_loading": to_json(Q_(r["loading_2"], "mmol/g")),
            }
        except Exception as ex:
            out["not_computed"]["selectivity"] = f"IAST failed: {short_reason(ex)}"
    else:
        out["not_computed"]["selectivity"] = "needs CO2 and N2 isotherms at one temperature"
    # working capacity: the CO2 isotherm, else each gas measured near ambient
    targets = [e for e in warm if e["gas"] == "CO2"] or warm
    wcs = []
    for e in targets[:1] if targets else []:
        try:
            w = working_capacity(
                e["_iso"],
                e["_fit"],
                desorption_bar=desorption_bar,
                desorption_k=desorption_k,
                heat=heats.get(e["gas"]),
            )
        except Exception as ex:
            out["not_computed"]["working_capacity"] = short_reason(ex)
            continue
        wcs.append(
            {
                "gas": e["gas"],
                "value": w["working_capacity"],
                "unit": "mmol/g",
                "adsorption": _condition(w["adsorption"]),
                "desorption": _condition(w["desorption"]),
            }
        )
    if wcs:
        out["working_capacity"] = wcs[0]
    if not out["not_computed"]:
        del out["not_computed"]
    return out


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
