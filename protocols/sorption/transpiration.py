"""The thermal transpiration correction: the cold cell's pressure from the manifold's reading.

Along the tube between the warm manifold (T₂, where the manometer reads p₂) and the cold
cell (T₁), a rarefied gas keeps p₁ < p₂: in the free-molecular limit p₁/p₂ = √(T₁/T₂),
half between 308 K and 77 K, where a microporous solid's first N2 doses come to rest.

The correction is the Weber–Schmidt correlation, as Micromeritics applies it (ASAP 2460
operator's manual, 246-42800-01, appendix C, "Thermal Transpiration Correction"):

    p₁ = p₂ [1 − F (1 − √(T₁/T₂))],   F = 1 / (α Y² + β Y + (1 + G Y)/(1 + H Y))
    Y = d / λ  (the tube's inner diameter over the mean free path at p₂ and T = (T₁ + T₂)/2)

α = 0.033, β = 0.245, G = 2.5, H = 2; λ = kT / (√2 π σ² p₂) with σ the gas's hard-sphere
diameter, here from its viscosity at T (CoolProp): σ² = (5/16) √(m k T / π) / η (3.96 Å for
N2 between 77 and 308 K). F → 1 is Knudsen's limit, F → 1/(αY²) the slip-flow regime.

Takaishi and Sensui's correlation (Trans. Faraday Soc. 59, 2503, 1963) is the other one in
use; its coefficients could not be checked here against a public source, so it is not
offered (docs/decisions/0017). Correlations of this kind disagree with each other and with
kinetic theory in the transition (Daudé et al., J. Vac. Sci. Technol. A 32, 2014): this
one and the simulator's kinetic model by up to 14 % of the correction near 1 Pa in a 6 mm
stem. `ACCURACY`, the ± limit the kernels give it, is about twice that.
"""

from __future__ import annotations

import functools
import math

from protocols.sorption.thermo import FLUIDS

ALPHA, BETA, G_W, H_W = 0.033, 0.245, 2.5, 2.0
ACCURACY = 0.3  # ± limit on the correction p₂ − p₁, as a fraction of it
K_B = 1.380649e-23
N_A = 6.02214076e23
MOLAR_MASS = {"He": 4.0026e-3, "N2": 28.0134e-3, "CO2": 44.0095e-3, "Ar": 39.948e-3}
METHODS = ("weber-schmidt", "none")


@functools.cache
def hard_sphere_diameter(gas: str, temperature_k: float) -> float:
    """σ (m) of the hard sphere with the gas's viscosity at this temperature."""
    from CoolProp.CoolProp import PropsSI

    eta = PropsSI("V", "T", temperature_k, "P", 1.0, FLUIDS[gas])
    m = MOLAR_MASS[gas] / N_A
    return math.sqrt(5.0 / 16.0 * math.sqrt(m * K_B * temperature_k / math.pi) / eta)


def free_molecular_fraction(
    gas: str, warm_pa: float, warm_k: float, cold_k: float, diameter_m: float
) -> float:
    """F: the fraction of Knudsen's pressure ratio the gas shows at this pressure."""
    if warm_pa <= 0:
        return 1.0
    t = round((warm_k + cold_k) / 2.0, 1)
    sigma = hard_sphere_diameter(gas, t)
    mean_free_path = K_B * t / (math.sqrt(2.0) * math.pi * sigma * sigma * warm_pa)
    y = diameter_m / mean_free_path
    return 1.0 / (ALPHA * y * y + BETA * y + (1.0 + G_W * y) / (1.0 + H_W * y))


def cold_pressure(
    gas: str, warm_pa: float, warm_k: float, cold_k: float, diameter_m: float, scale: float = 1.0
) -> float:
    """p₁, the cold end's pressure, from p₂ read at the warm end. `scale` multiplies the
    correction (1: the correlation; 0: none; the uncertainty analysis varies it)."""
    if warm_pa <= 0 or abs(warm_k - cold_k) < 1e-9 or gas not in MOLAR_MASS:
        return max(warm_pa, 0.0)
    f = free_molecular_fraction(gas, warm_pa, warm_k, cold_k, diameter_m)
    return warm_pa * (1.0 - scale * f * (1.0 - math.sqrt(cold_k / warm_k)))


def slope(gas: str, warm_pa: float, warm_k: float, cold_k: float, diameter_m: float) -> float:
    """dp₁/dp₂ (numerically: a relative step of 1e-6)."""
    if warm_pa <= 0:
        return math.sqrt(cold_k / warm_k) if gas in MOLAR_MASS else 1.0
    h = warm_pa * 1e-6
    up = cold_pressure(gas, warm_pa + h, warm_k, cold_k, diameter_m)
    down = cold_pressure(gas, warm_pa - h, warm_k, cold_k, diameter_m)
    return (up - down) / (2 * h)
