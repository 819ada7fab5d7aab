"""Real-gas molar densities and saturation pressures from CoolProp: the only place the kernels
meet an equation of state."""

from __future__ import annotations

R = 8.314462618  # J/(mol K)
LN2_K = 77.35  # liquid nitrogen boiling under one atmosphere: a rough figure, never a result


FLUIDS = {"He": "Helium", "CO2": "CarbonDioxide", "N2": "Nitrogen", "Ar": "Argon"}


# -- real-gas densities ---------------------------------------------------------------------
_STATES: dict[str, object] = {}


def _state(gas: str) -> object:
    st = _STATES.get(gas)
    if st is None:
        import CoolProp.CoolProp as CP

        st = _STATES[gas] = CP.AbstractState("HEOS", FLUIDS[gas])
    return st


def pressure_at(gas: str, temperature_k: float, density_mol_m3: float) -> float:
    if density_mol_m3 <= 0:
        return 0.0
    import CoolProp.CoolProp as CP

    st: object = _state(gas)
    st.update(CP.DmolarT_INPUTS, density_mol_m3, temperature_k)  # type: ignore[attr-defined]
    return float(st.p())  # type: ignore[attr-defined]


def _dp_drho(gas: str, temperature_k: float, density_mol_m3: float) -> float:
    import CoolProp.CoolProp as CP

    st: object = _state(gas)
    st.update(CP.DmolarT_INPUTS, density_mol_m3, temperature_k)  # type: ignore[attr-defined]
    return float(st.first_partial_deriv(CP.iP, CP.iDmolar, CP.iT))  # type: ignore[attr-defined]


def density(gas: str, temperature_k: float, pressure_pa: float) -> float:
    """Molar density of the gas, mol/m³ (CoolProp's reference equation of state): Newton's
    method on p(ρ, T) from the ideal gas's ρ, three steps (a gas here is close to ideal:
    what is left is far below a part in 10⁹; a (p, T) flash costs ten times as much)."""
    if pressure_pa <= 0:
        return 0.0
    import CoolProp.CoolProp as CP

    st: object = _state(gas)
    rho = pressure_pa / (R * temperature_k)
    for _ in range(3):
        st.update(CP.DmolarT_INPUTS, rho, temperature_k)  # type: ignore[attr-defined]
        p = st.p()  # type: ignore[attr-defined]
        rho -= (p - pressure_pa) / st.first_partial_deriv(CP.iP, CP.iDmolar, CP.iT)  # type: ignore[attr-defined]
    return rho


def density_slope(gas: str, temperature_k: float, pressure_pa: float) -> float:
    """∂ρ/∂p at constant T, mol/(m³ Pa)."""
    if pressure_pa <= 0:
        return 1.0 / (R * temperature_k)
    return 1.0 / _dp_drho(gas, temperature_k, density(gas, temperature_k, pressure_pa))


def saturation_pressure(gas: str, temperature_k: float) -> float:
    from CoolProp.CoolProp import PropsSI

    return float(PropsSI("P", "T", temperature_k, "Q", 0, FLUIDS[gas]))


def saturation_temperature(gas: str, pressure_pa: float) -> float:
    """The temperature at which the liquid boils under `pressure_pa`: a p0 cell's reading
    is the bath's thermometer."""
    from CoolProp.CoolProp import PropsSI

    return float(PropsSI("T", "P", pressure_pa, "Q", 0, FLUIDS[gas]))


def saturation_slope(gas: str, temperature_k: float) -> float:
    """dp_sat/dT, Pa/K (numerically: ±5 mK)."""
    h = 5e-3
    return (
        saturation_pressure(gas, temperature_k + h) - saturation_pressure(gas, temperature_k - h)
    ) / (2 * h)
