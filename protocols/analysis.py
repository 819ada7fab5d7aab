"""The analysis kernel: a sample's stored isotherm points → the numbers a campaign optimises,
through the same code as `ppu analyze` (protocols.isotherms), so a campaign's stored figures
equal what `ppu analyze` says of its exported AIF files."""

from __future__ import annotations

from typing import Any

from ppu.core.errors import SampleFailed
from ppu.core.kernels import In, Uses, kernel
from ppu.core.units import Q_


# -- the full analysis of a sample's isotherms, on pyGAPS ---------------------------------------
@kernel(
    role=None,
    outputs={
        "co2_uptake": "mmol/g",
        "co2_uptake_1bar": "mmol/g",
        "n2_uptake": "mmol/g",
        "selectivity": "",
        "working_capacity": "mmol/g",
    },
    cost_s=0.0,
)
def analyze(
    ctx,
    sample=Uses("activated", doc="the sample whose isotherms (CO2 and N2, any others) to analyse"),
    desorption_pressure=In(
        "bar", ge="0.001 bar", le="1 bar", default="0.01 bar", doc="working capacity: desorb at"
    ),
    desorption_temperature=In(
        "K",
        ge="0 K",
        le="573.15 K",
        default="0 K",
        doc="working capacity: desorb at (0 K: the isotherm's own, a pressure swing)",
    ),
    temperature=In(
        "K",
        ge="150 K",
        le="573.15 K",
        default="298.15 K",
        doc="the capture temperature whose figures are returned (the sample's CO2 and N2 "
        "isotherms measured there)",
    ),
):
    """Everything the sample's stored isotherms tell, on pyGAPS, exactly as `ppu analyze`
    tells it: CO2 uptake at 0.15 and 1 bar (the measured point there, else the DSL / Langmuir /
    Henry fit), N2 uptake at 1 bar, IAST CO2/N2 selectivity for a 15:85 flue gas at 1 bar,
    working capacity (0.15 bar → the desorption conditions), at `temperature`; also stored
    when the isotherms allow: BET area (N2 at 77 K) and the isosteric heat (isotherms at two or
    more temperatures). Wait for the isotherm launches (`after`). No measurable CO2 uptake
    fails the sample; an isotherm that cannot be one (loading falling with pressure) fails the
    launch, naming it."""
    from protocols import isotherms as iso
    from protocols.isotherms import NO_MEASURABLE_UPTAKE_MMOL_G

    sid = sample if isinstance(sample, str) else ctx.samples_in["sample"].id
    measured = iso.measured_isotherms(_measurements_of(ctx, sid))
    if not measured:
        raise ValueError(f"sample {sid} has no stored isotherm points: measure it first")
    t_des = desorption_temperature.m_as("K")
    report = iso.analyze(
        [iso.Read(f"launch {m.launch_id}", m.to_pygaps(material=sid)) for m in measured],
        desorption_bar=desorption_pressure.m_as("bar"),
        desorption_k=t_des if t_des > 0 else None,
    )
    kelvin = temperature.m_as("K")
    co2 = [e for e in report["isotherms"] if e["gas"] == "CO2"]
    if not co2 or all(e["status"] == "no measurable uptake" for e in co2):
        shown = max((e["max_uptake"]["value"] for e in co2), default=0.0)
        raise SampleFailed(f"no measurable uptake: CO2 at most {shown:.3g} mmol/g")
    (material,) = report["materials"]
    at = _at(material, kelvin)
    if at is None:
        measured_at = sorted({e["temperature"]["value"] for e in co2})
        raise ValueError(
            f"sample {sid}: no CO2 isotherm at {kelvin:g} K (measured at "
            f"{', '.join(f'{t:g} K' for t in measured_at)})"
        )
    low = at.get("co2_uptake_0p15bar")
    if low is not None and low["value"] < NO_MEASURABLE_UPTAKE_MMOL_G:
        raise SampleFailed(
            f"no measurable uptake: CO2 {low['value']:.3g} mmol/g at 0.15 bar ({low['method']})"
        )
    n2 = _n2_at_1bar(report, at, sid)
    missing = at.get("not_computed", {})
    for key in ("co2_uptake_0p15bar", "co2_uptake_1bar", "selectivity", "working_capacity"):
        if key not in at:
            raise ValueError(f"sample {sid}: {key.replace('_', ' ')}: {missing.get(key)}")
    sel, wc = at["selectivity"], at["working_capacity"]
    warnings = list(report["warnings"])
    common = {"sample": sid, "source_launches": [m.launch_id for m in measured]}
    outputs = {
        "co2_uptake": Q_(at["co2_uptake_0p15bar"]["value"], "mmol/g"),
        "co2_uptake_1bar": Q_(at["co2_uptake_1bar"]["value"], "mmol/g"),
        "n2_uptake": Q_(n2[0], "mmol/g"),
        "selectivity": Q_(sel["value"], ""),
        "working_capacity": Q_(wc["value"], "mmol/g"),
    }
    methods: dict[str, dict[str, Any]] = {
        "co2_uptake": _how(at["co2_uptake_0p15bar"], 0.15, co2),
        "co2_uptake_1bar": _how(at["co2_uptake_1bar"], 1.0, co2),
        "n2_uptake": {"method": n2[1], "pressure_bar": 1.0},
        "selectivity": {
            "method": sel["method"],
            "co2_fraction": 0.15,
            "total_pressure_bar": 1.0,
            "pure_component_pressures": sel["pure_component_pressures"],
            "extrapolated": sel["extrapolated"],
        },
        "working_capacity": {"adsorption": wc["adsorption"], "desorption": wc["desorption"]},
    }
    for name, q in outputs.items():
        ctx.measure(
            name,
            q,
            **common,
            **methods[name],
            temperature_k=at["temperature"]["value"],
            warnings=warnings,
        )
    if "bet_area" in material:
        bet = next(
            e["bet"] for e in report["isotherms"] if e["source"] == material["bet_area"]["source"]
        )
        ctx.measure(
            "bet_area",
            Q_(material["bet_area"]["value"], "m^2/g"),
            **common,
            bet_c=bet["c"],
            range_p_p0=bet["range_p_p0"],
            rouquerol=bet["rouquerol"],
        )
    for gas, heat in material.get("heat_of_adsorption", {}).items():
        ctx.measure(
            f"heat_of_adsorption_{gas}",
            Q_(heat["median"]["value"], "kJ/mol"),
            **common,
            statistic="median over the common loading range",
            loading_range=heat["loading_range"],
        )
    return outputs


def _at(material: dict[str, Any], kelvin: float) -> dict[str, Any] | None:
    """The material's figures at the temperature nearest `kelvin`, within the analysis's
    one-temperature band."""
    from protocols.isotherms import SAME_TEMPERATURE_K

    near = [
        g
        for g in material.get("by_temperature", [])
        if abs(g["temperature"]["value"] - kelvin) <= SAME_TEMPERATURE_K
    ]
    return min(near, key=lambda g: abs(g["temperature"]["value"] - kelvin), default=None)


def _n2_at_1bar(report: dict[str, Any], at: dict[str, Any], sid: str) -> tuple[float, str]:
    """N2 uptake at 1 bar at that temperature; below detection, the largest loading measured."""
    n2 = [e for e in report["isotherms"] if e["gas"] == "N2" and e["source"] in at["sources"]]
    kelvin = at["temperature"]["value"]
    if not n2:
        raise ValueError(f"sample {sid} has no N2 isotherm at {kelvin:g} K: selectivity needs one")
    if "n2_uptake_1bar" in at:
        return at["n2_uptake_1bar"]["value"], at["n2_uptake_1bar"]["method"]
    blank = [e for e in n2 if e["status"] == "no measurable uptake"]
    if blank:
        return max(e["max_uptake"]["value"] for e in blank), "below detection"
    why = at.get("not_computed", {}).get("n2_uptake_1bar")
    raise ValueError(f"sample {sid}: N2 uptake at 1 bar: {why}")


def _how(
    figure: dict[str, Any], pressure_bar: float, isotherms: list[dict[str, Any]]
) -> dict[str, Any]:
    """How a figure was read: its method, and the fit of the very isotherm it came from."""
    fit = next((e.get("fit") for e in isotherms if e["source"] == figure["source"]), None)
    return {
        "method": figure["method"],
        "extrapolated": figure["extrapolated"],
        "pressure_bar": pressure_bar,
        "fit": fit,
    }


def _measurements_of(ctx, sample_id: str) -> list:
    """The sample's stored measurements, read through the launch's context (the runtime
    owns the store; a kernel never opens it)."""
    return list(ctx.measurements(sample_id))
