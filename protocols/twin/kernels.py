"""The twin as a computed kernel: same inputs as the synthesis, an uptake estimate out."""

from __future__ import annotations

from ppu.core.kernels import Choice, In, kernel
from ppu.core.units import Q_
from protocols.twin.estimate import MODEL, VERSION, estimate_uptake

SOLVENTS = ("DMF", "DEF", "DMAc", "EtOH", "H2O")
#: declared cost of one estimate, CPU seconds (what a group's force-field screen would take
#: is hours; this heuristic takes microseconds, but the planner plans with the declared cost)
COST_S = 1.0


@kernel(
    role=None,
    outputs={"co2_uptake": "mmol/g"},
    fidelity="computed",
    model=MODEL,
    model_version=VERSION,
    cpu_s=COST_S,
)
def estimate_co2_uptake(
    ctx,
    temperature=In("degC", ge="80 degC", le="180 degC", default="120 degC"),
    time=In("h", ge="2 h", le="48 h", default="24 h"),
    ratio=In("", ge=0.5, le=3.0, default=1.0, doc="metal:linker molar ratio"),
    modulator=In("", ge=0, le=50, default=10, doc="modulator equivalents per metal"),
    solvent=Choice(SOLVENTS, default="DMF"),
):
    """The twin's CO2 uptake at 0.15 bar / 298 K for these synthesis conditions, with its
    one-sigma uncertainty: a computed estimate, never a measurement."""
    e = estimate_uptake(
        temperature.m_as("degC"),
        time.m_as("h"),
        float(ratio.m_as("")),
        float(modulator.m_as("")),
        solvent,
    )
    uptake = Q_(e.co2_uptake, "mmol/g")
    ctx.measure("co2_uptake", uptake, sigma=e.sigma, sigma_unit="mmol/g", family=e.family)
    return {"co2_uptake": uptake}
