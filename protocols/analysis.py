"""Compute kernels: turn measured isotherm points into the numbers a campaign optimises."""

from __future__ import annotations

from ppu.errors import SampleFailed
from ppu.kernel import In, kernel
from ppu.units import Q_

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
