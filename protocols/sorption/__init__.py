"""Volumetric (Sieverts) gas adsorption: an isotherm, and a BET area from N2 at 77 K.

The analyzer (role "sorption") has these devices, named so in the lab file:
  gauge     capacitance manometer on the manifold (tpg-26x): two gauges, a coarse one to
            above 1 bar and a fine one for the first doses (hundredths of a pascal), the
            finer one read while it is in range; gas-independent
  manifold  the manifold's temperature controller (eurotherm-3200): its temperature is
            read with every pressure, not assumed
  valves    valve bank: `gas_in` (supply → manifold, through a restriction), `dose`
            (manifold ↔ sample cell) and `vacuum` (manifold → pump) (modbus-relay)
  selector  gas selector feeding `gas_in`, ports `GAS_PORTS` (vici)
  bath      temperature controller of the cell's bath (eurotherm-3200); at 77 K the
            operator raises a liquid-nitrogen dewar around the cell instead, and tops it up
  p0_gauge  manometer of the dewar's saturation-pressure cell (tpg-26x): at 77 K, p0 and
            with it the bath's temperature

The static volumetric method (Rouquerol, Rouquerol, Sing, "Adsorption by Powders and Porous
Solids", 2nd ed., ch. 3.2; ISO 9277 for the BET part):

1. Bath (or dewar) and manifold at temperature; evacuate manifold and cell; zero the
   manometer's gauges under vacuum.
2. Free space with helium (not adsorbed): fill the manifold to p1, open `dose` into the
   evacuated cell, equilibrium p2:  V_f = V_m [ρ(p1, T_m) − ρ(p2, T_m)] / ρ(p2, T_c), an
   equivalent volume at the cold zone's temperature.
3. Evacuate; a rate-of-rise leak check (the pump's valve shut, manifold and cell together):
   a leak stops the run before any adsorptive is dosed, naming the instrument.
4. Select the adsorptive, then dose after dose: fill the manifold to p_m,j and read it, open
   `dose`, wait until the pressure change per interval is below a fraction of the pressure,
   read p_j, close `dose`. The amount adsorbed after dose k is what left the manifold less
   what is in the cell's gas phase:
       n_k = V_m Σ_{j≤k} [ρ(p_m,j, T_m,j) − ρ(p_j, T_m,j)] − V_f(t_k) ρ(p_c,k, T_c,k)
   with real-gas molar densities ρ from CoolProp, each manifold reading at the manifold
   temperature read with it, p_c the cold zone's pressure after the thermal transpiration
   correction (`transpiration`), and V_f less the cold volume the falling liquid nitrogen
   has given up since the helium was measured.
5. At 77 K the p0 cell's pressure gives p0 for each point's relative pressure and, as the
   nitrogen's boiling point, the cold zone's temperature: liquid nitrogen boils at the
   day's atmospheric pressure and a little above it as oxygen dissolves, not at 77.35 K.
6. 1σ by first-order propagation, each error where it really acts (GUM): see `volumetric`.
7. Equilibrium: the pressure change per interval (a line through the last readings) is
   below `equilibrium_tolerance` × p, and the first-order relaxation fitted to the whole
   dose projects less than `EQUILIBRIUM_UPTAKE_FRACTION` of the uptake still to come (a
   slow, weak adsorbent changes the pressure too little per interval for the first test
   alone: it stopped ZIF-8 ≈ 8 % short at 0.15 bar).

Kernels see only what the devices report: pressures, temperatures, valve states. The
manifold's volume, the cell stem's diameter and the dewar's boil-off are the instrument's
calibration (kernel inputs).

The package, one concern per module: `thermo` (equations of state), `transpiration` (the
cold cell's pressure), `volumetric` (the mass balance and its uncertainty, pure functions),
`equilibration`, `analyzer` (the instrument as the kernels drive it), `plan` (the dosing),
`bet`, and `kernels`.
"""

from __future__ import annotations

from protocols.sorption.analyzer import GAS_PORTS, Analyzer
from protocols.sorption.bet import bet_fit, rouquerol_range
from protocols.sorption.kernels import measure_bet, measure_isotherm
from protocols.sorption.thermo import LN2_K, density, saturation_pressure
from protocols.sorption.volumetric import (
    Cell,
    FreeSpace,
    GaugeCalibration,
    Head,
    MassBalance,
    Point,
    Reading,
    free_space,
    interpolate,
)

__all__ = [
    "GAS_PORTS",
    "LN2_K",
    "Analyzer",
    "Cell",
    "FreeSpace",
    "GaugeCalibration",
    "Head",
    "MassBalance",
    "Point",
    "Reading",
    "bet_fit",
    "density",
    "free_space",
    "interpolate",
    "measure_bet",
    "measure_isotherm",
    "rouquerol_range",
    "saturation_pressure",
]
