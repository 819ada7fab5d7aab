"""Volumetric (Sieverts) gas adsorption: an isotherm, and a BET area from N2 at 77 K.

The analyzer (role "sorption") has these devices, named so in the lab file:
  gauge     absolute pressure gauge on the manifold (mks-9xx)
  valves    valve bank: `gas_in` (supply → manifold, through a restriction), `dose`
            (manifold ↔ sample cell) and `vacuum` (manifold → pump) (modbus-relay)
  selector  gas selector feeding `gas_in`, ports `GAS_PORTS` (vici)
  bath      temperature controller of the cell's bath (eurotherm-3200); at 77 K the
            operator raises a liquid-nitrogen dewar around the cell instead

The static volumetric method (Rouquerol, Rouquerol, Sing, "Adsorption by Powders and Porous
Solids", 2nd ed., ch. 3.2; ISO 9277 for the BET part):

1. Evacuate manifold and cell.
2. Free space with helium (not adsorbed): fill the manifold to p1, open `dose` into the
   evacuated cell, equilibrium p2:  V_f = V_m [ρ(p1, T_m) − ρ(p2, T_m)] / ρ(p2, T_c).
3. Evacuate, select the adsorptive, then dose after dose: fill the manifold to p_m,j and
   read it, open `dose`, wait until the pressure change per interval is below a fraction of
   the pressure, read p_j, close `dose`. The amount adsorbed after dose k is what left the
   manifold less what is in the cell's gas phase:
       n_k = V_m Σ_{j≤k} [ρ(p_m,j, T_m) − ρ(p_j, T_m)] − V_f ρ(p_k, T_c)
   with real-gas molar densities ρ from CoolProp.
4. 1σ by first-order propagation, each error where it really acts (GUM):
   * the gauge's calibration: its accuracy (±0.12 % of reading, a limit: rectangular,
     u = a/√3) is one gain error common to every reading of that gauge, so it is propagated
     through the sum of all the readings' sensitivities (the helium ratio that gives V_f
     does not see it at all; the manifold sum scales with it) and through the pressure the
     point is reported at (through the isotherm's local slope);
   * each reading's own errors, independent from reading to reading: noise, estimated from
     the scatter of the readings about the equilibration lines (Type A, pooled over the
     run), averaged down where readings are averaged; and the display's resolution
     (4 or 3 significant digits: rectangular, ±half a step, averaged down only as far as
     the noise or a drift carries the readings across the steps); the equilibrium
     reading's error also moves the pressure the point is reported at;
   * the calibrated manifold volume (±0.5 %, a limit: rectangular), which scales V_f too,
     so n scales with it;
   * the uptake the equilibration line projects is still to come when the point is read
     (first-order relaxation fitted to the dose's readings).
   The sum over doses grows, so the reading errors accumulate.
5. Equilibrium: the pressure change per interval (a line through the last readings) is
   below `equilibrium_tolerance` × p, and the first-order relaxation fitted to the whole
   dose projects less than `EQUILIBRIUM_UPTAKE_FRACTION` of the uptake still to come (a
   slow, weak adsorbent changes the pressure too little per interval for the first test
   alone: it stopped ZIF-8 ≈ 8 % short at 0.15 bar).

Kernels see only what the devices report: pressures, the bath temperature, valve states.
The manifold's volume and temperature are the instrument's calibration (kernel inputs).

The package, one concern per module: `thermo` (equations of state), `volumetric` (the mass
balance and its uncertainty, pure functions), `equilibration`, `analyzer` (the instrument as
the kernels drive it), `plan` (the dosing), `bet`, and `kernels`.
"""

from __future__ import annotations

from protocols.sorption.analyzer import GAS_PORTS, Analyzer
from protocols.sorption.bet import bet_fit, rouquerol_range
from protocols.sorption.kernels import measure_bet, measure_isotherm
from protocols.sorption.thermo import LN2_K, density, saturation_pressure
from protocols.sorption.volumetric import (
    FreeSpace,
    GaugeCalibration,
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
    "FreeSpace",
    "GaugeCalibration",
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
