"""Real-gas molar densities and saturation pressures from CoolProp: the only place the kernels
meet an equation of state."""

from __future__ import annotations

R = 8.314462618  # J/(mol K)
LN2_K = 77.35  # liquid nitrogen boiling under one atmosphere


FLUIDS = {"He": "Helium", "CO2": "CarbonDioxide", "N2": "Nitrogen"}


# -- real-gas densities ---------------------------------------------------------------------
def density(gas: str, temperature_k: float, pressure_pa: float) -> float:
    """Molar density, mol/m³ (CoolProp's reference equation of state)."""
    if pressure_pa <= 0:
        return 0.0
    from CoolProp.CoolProp import PropsSI

    return float(PropsSI("Dmolar", "T", temperature_k, "P", pressure_pa, FLUIDS[gas]))


def density_slope(gas: str, temperature_k: float, pressure_pa: float) -> float:
    """∂ρ/∂p at constant T, mol/(m³ Pa)."""
    if pressure_pa <= 0:
        return 1.0 / (R * temperature_k)
    from CoolProp.CoolProp import PropsSI

    return float(PropsSI("d(Dmolar)/d(P)|T", "T", temperature_k, "P", pressure_pa, FLUIDS[gas]))


def pressure_at(gas: str, temperature_k: float, density_mol_m3: float) -> float:
    if density_mol_m3 <= 0:
        return 0.0
    from CoolProp.CoolProp import PropsSI

    return float(PropsSI("P", "T", temperature_k, "Dmolar", density_mol_m3, FLUIDS[gas]))


def saturation_pressure(gas: str, temperature_k: float) -> float:
    from CoolProp.CoolProp import PropsSI

    return float(PropsSI("P", "T", temperature_k, "Q", 0, FLUIDS[gas]))
