"""Compute kernels: turn measured isotherm points into the numbers a campaign optimises."""

from __future__ import annotations

import math

from ppu.core.errors import SampleFailed
from ppu.core.kernels import In, Uses, kernel
from ppu.core.units import Q_

#: below this the sample adsorbs nothing we can tell from the instrument's noise
NO_MEASURABLE_UPTAKE = Q_(0.02, "mmol/g")


@kernel(
    role=None,
    outputs={"co2_uptake": "mmol/g", "n2_uptake": "mmol/g", "selectivity": ""},
    cost_s=0.0,
)
def screen_sorption(
    ctx,
    co2_0p15=In("mmol/g", ge="-1 mmol/g", le="100 mmol/g", doc="CO2 uptake at 0.15 bar"),
    n2_1bar=In("mmol/g", ge="-1 mmol/g", le="100 mmol/g", doc="N2 uptake at 1 bar"),
):
    """CO2 uptake at 0.15 bar and a flue-gas (15:85) CO2/N2 selectivity from the two pure
    isotherms, in the Henry-regime approximation (N2 is linear up to 1 bar at 298 K).
    A sample with no measurable CO2 uptake is a failed synthesis, not a zero."""
    if co2_0p15 < NO_MEASURABLE_UPTAKE:
        raise SampleFailed(
            f"no measurable uptake: CO2 {co2_0p15.m_as('mmol/g'):.3g} mmol/g at 0.15 bar"
        )
    n2_at_0p85 = max(n2_1bar.m_as("mmol/g") * 0.85, 1e-4)
    selectivity = (co2_0p15.m_as("mmol/g") / 0.15) / (n2_at_0p85 / 0.85)
    return {"co2_uptake": co2_0p15, "n2_uptake": n2_1bar, "selectivity": Q_(selectivity, "")}


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
):
    """Everything the sample's stored isotherms tell, on pyGAPS: CO2 uptake at 0.15 and 1 bar
    (interpolated, or from a DSL / Langmuir / Henry fit just outside the points), N2 uptake at
    1 bar, IAST CO2/N2 selectivity for a 15:85 flue gas at 1 bar, working capacity (0.15 bar
    → the desorption conditions); also stored when the isotherms allow: BET area (N2 at
    77 K) and the isosteric heat (isotherms at two or more temperatures). Wait for the
    isotherm launches (`after`). No measurable CO2 uptake fails the sample."""
    from protocols import isotherms as iso

    sid = sample if isinstance(sample, str) else ctx.samples_in["sample"].id
    measured = iso.measured_isotherms(_measurements_of(ctx, sid))
    if not measured:
        raise ValueError(f"sample {sid} has no stored isotherm points: measure it first")
    t_des = desorption_temperature.m_as("K")
    report = iso.analyze(
        [(f"launch {m.launch_id}", m.to_pygaps(material=sid)) for m in measured],
        desorption_bar=desorption_pressure.m_as("bar"),
        desorption_k=t_des if t_des > 0 else None,
    )
    by_gas = {e["gas"]: e for e in report["isotherms"] if e["gas"] in ("CO2", "N2")}
    co2, n2 = by_gas.get("CO2"), by_gas.get("N2")
    if co2 is None or co2["status"] == "no measurable uptake":
        shown = co2["max_uptake"]["value"] if co2 else 0.0
        raise SampleFailed(f"no measurable uptake: CO2 at most {shown:.3g} mmol/g")
    if n2 is None:
        raise ValueError(f"sample {sid} has no N2 isotherm: selectivity needs one")
    material = report["materials"][0]
    sources = [m.launch_id for m in measured]
    co2_low = _uptake(co2, 0.15)
    co2_high = _uptake(co2, 1.0)
    if co2_low is None or co2_high is None:
        raise ValueError(f"sample {sid}: the CO2 isotherm does not reach 1 bar")
    if n2["status"] == "no measurable uptake":
        # below detection: the Henry-regime selectivity with N2 at the detection limit, a floor
        n2_1bar = (n2["max_uptake"]["value"], "below detection")
        floor = max(n2_1bar[0], NO_MEASURABLE_UPTAKE.m_as("mmol/g"))
        selectivity = (co2_low[0] / 0.15) / (floor / 1.0)
        how = "lower bound: N2 uptake below detection (Henry regime)"
    else:
        n2_1bar = _uptake(n2, 1.0) or (math.nan, "")
        sel = material.get("selectivity")
        if sel is None:
            raise ValueError(f"sample {sid}: {material['not_computed'].get('selectivity')}")
        selectivity, how = sel["value"], sel["method"]
    wc = material.get("working_capacity")
    if wc is None:
        raise ValueError(f"sample {sid}: working capacity: {material['not_computed']}")
    common = {"sample": sid, "source_launches": sources}
    outputs = {
        "co2_uptake": Q_(co2_low[0], "mmol/g"),
        "co2_uptake_1bar": Q_(co2_high[0], "mmol/g"),
        "n2_uptake": Q_(n2_1bar[0], "mmol/g"),
        "selectivity": Q_(selectivity, ""),
        "working_capacity": Q_(wc["value"], "mmol/g"),
    }
    methods = {
        "co2_uptake": {"method": co2_low[1], "pressure_bar": 0.15, "fit": co2.get("fit")},
        "co2_uptake_1bar": {"method": co2_high[1], "pressure_bar": 1.0, "fit": co2.get("fit")},
        "n2_uptake": {"method": n2_1bar[1], "pressure_bar": 1.0, "fit": n2.get("fit")},
        "selectivity": {"method": how, "co2_fraction": 0.15, "total_pressure_bar": 1.0},
        "working_capacity": {
            "adsorption": wc["adsorption"],
            "desorption": wc["desorption"],
        },
    }
    for name, q in outputs.items():
        ctx.measure(name, q, **common, **methods[name])
    if "bet_area" in material:
        bet = next(e["bet"] for e in report["isotherms"] if e.get("bet", {}).get("area"))
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


def _uptake(entry: dict, pressure_bar: float) -> tuple[float, str] | None:
    for u in entry.get("uptakes", []):
        if math.isclose(u["pressure"]["value"], pressure_bar) and u["uptake"] is not None:
            return u["uptake"]["value"], u["method"]
    return None


def _measurements_of(ctx, sample_id: str) -> list:
    """The sample's stored measurements, read through the launch's context (the runtime
    owns the store; a kernel never opens it)."""
    return list(ctx.measurements(sample_id))
