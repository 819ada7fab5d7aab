"""Thermal transpiration: the pressure difference a temperature gradient keeps along a
tube of rarefied gas, as the simulated world has it.

Where the gas is dense (the mean free path λ much shorter than the tube's diameter d) the
pressure is the same at both ends. Where it is rarefied, the walls' temperature gradient
drives a creep flow that a pressure gradient must balance, and in the free-molecular limit
p_cold / p_warm = √(T_cold / T_warm) (Knudsen): half the manifold's pressure in a 77 K
cell. Along the tube, with Kn = λ/d at the local temperature and pressure,

    d ln p / d ln T = γ(Kn),   γ = ½ · c Kn² / (1 + b Kn + c Kn²)

* for Kn → ∞, γ → ½: Knudsen's limit;
* for Kn → 0, γ → (64 σ_T / π) Kn², so c = 128 σ_T / π = 40.7 with the thermal slip
  coefficient σ_T = 1: the balance of Poiseuille flow, (d²/32η) dp/dx, against thermal
  creep, σ_T (η/ρT) dT/dx, with η²/(ρp) = 2λ²/π;
* b = 12 puts the middle of the transition (γ = ¼) at Kn ≈ 0.37, where Daudé,
  Elandaloussi and Janssen (J. Vac. Sci. Technol. A 32, 2014) find it for capacitance
  gauges: the pressure of half the effect p½ = 2ηv̄/d, i.e. Kn = π/8.

λ = (η/p) √(πRT/2M), with η the dilute gas's viscosity (Sutherland's law, from White,
Viscous Fluid Flow, table 1-2). The equation is integrated from the warm end to the cold one
(fourth-order Runge–Kutta in ln T). Ratios are tabulated lazily on a grid of pressures
(50 per decade) for each gas, pair of temperatures and diameter, and interpolated.

This is the simulator's truth; the kernels correct for it with an empirical correlation,
knowing only the temperatures they read and the tube's nominal diameter.
"""

from __future__ import annotations

import math

R = 8.314462618
MOLAR_MASS = {"He": 4.0026e-3, "N2": 28.0134e-3, "CO2": 44.0095e-3, "Ar": 39.948e-3}
# Sutherland's law: η_ref (Pa s) at T_ref, S (K)
SUTHERLAND = {
    "He": (1.87e-5, 273.15, 79.4),
    "N2": (1.663e-5, 273.15, 107.0),
    "CO2": (1.370e-5, 273.15, 222.0),
    "Ar": (2.125e-5, 273.15, 144.0),
}
C_SLIP = 128.0 / math.pi  # 40.7: σ_T = 1
B_TRANSITION = 12.0
_PER_DECADE = 50
_STEPS = 16
_LOW_PA, _HIGH_PA = 1e-5, 1e7


def viscosity(gas: str, temperature_k: float) -> float:
    """Dilute-gas viscosity, Pa s: Sutherland's law (within about 7 % down to 77 K for N2,
    which is as close as the transition's own description)."""
    eta, t_ref, s = SUTHERLAND[gas]
    return eta * (temperature_k / t_ref) ** 1.5 * (t_ref + s) / (temperature_k + s)


def exponent(knudsen: float) -> float:
    """γ = d ln p / d ln T at this Knudsen number."""
    k2 = C_SLIP * knudsen * knudsen
    return 0.5 * k2 / (1.0 + B_TRANSITION * knudsen + k2)


class Transpiration:
    """p_end / p_start along a tube from one temperature to another."""

    def __init__(self) -> None:
        self._tables: dict[tuple[str, float, float, float], Table] = {}

    def _gamma(self, gas: str, ln_t: float, ln_p: float, diameter_m: float) -> float:
        t, p = math.exp(ln_t), math.exp(ln_p)
        mfp = viscosity(gas, t) / p * math.sqrt(math.pi * R * t / (2 * MOLAR_MASS[gas]))
        return exponent(mfp / diameter_m)

    def _integrate(self, gas: str, p_start: float, t_start: float, t_end: float, d: float) -> float:
        x0, x1 = math.log(t_start), math.log(t_end)
        h = (x1 - x0) / _STEPS
        y = math.log(p_start)
        x = x0
        for _ in range(_STEPS):
            k1 = self._gamma(gas, x, y, d)
            k2 = self._gamma(gas, x + h / 2, y + h / 2 * k1, d)
            k3 = self._gamma(gas, x + h / 2, y + h / 2 * k2, d)
            k4 = self._gamma(gas, x + h, y + h * k3, d)
            y += h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
            x += h
        return math.exp(y) / p_start

    def table(self, gas: str, t_start: float, t_end: float, diameter_m: float) -> Table | None:
        """The ratios for one gas, pair of temperatures and diameter (None: always 1)."""
        if gas not in MOLAR_MASS or abs(t_start - t_end) < 1e-9:
            return None
        key = (gas, round(t_start, 3), round(t_end, 3), round(diameter_m, 6))
        table = self._tables.get(key)
        if table is None:
            table = self._tables[key] = Table(self, *key)
        return table


class Table:
    """p_end / p_start against p_start, computed node by node as they are first needed."""

    def __init__(self, physics: Transpiration, gas: str, t0: float, t1: float, d: float):
        self.physics = physics
        self.args = (gas, t0, t1, d)
        self.free_molecular = math.sqrt(t1 / t0)
        self.nodes: dict[int, float] = {}

    def __call__(self, pressure_pa: float) -> float:
        if pressure_pa <= _LOW_PA:
            return self.free_molecular
        if pressure_pa >= _HIGH_PA:
            return 1.0
        pos = math.log10(pressure_pa) * _PER_DECADE
        i = math.floor(pos)
        nodes = self.nodes
        lo = nodes.get(i)
        if lo is None:
            lo = nodes[i] = self._node(i)
        hi = nodes.get(i + 1)
        if hi is None:
            hi = nodes[i + 1] = self._node(i + 1)
        return lo + (pos - i) * (hi - lo)

    def _node(self, i: int) -> float:
        gas, t0, t1, d = self.args
        return self.physics._integrate(gas, 10 ** (i / _PER_DECADE), t0, t1, d)
