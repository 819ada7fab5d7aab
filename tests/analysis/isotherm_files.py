"""Isotherm files with a known truth: made here from chosen parameters (a BET monolayer and C, a
Langmuir capacity and constant), written in the units and bases chemists' files come in."""

from __future__ import annotations

from pathlib import Path

AVOGADRO = 6.02214076e23
N2_CROSS_SECTION_M2 = 0.162e-18  # pyGAPS's, and the IUPAC value for N2 at 77 K
STP_CM3_PER_MMOL = 22.414  # cm3(STP) per mmol
N2_G_PER_MOL = 28.0134
CO2_G_PER_MOL = 44.0095

#: p/p0 of an N2 77 K isotherm as an analyzer measures it for BET
BET_X = [0.001, 0.003, 0.006, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.13, 0.16, 0.2, 0.25, 0.3, 0.4]
#: a CO2 isotherm to 1 bar, 0.15 bar not among the points
CAPTURE_BAR = [0.01, 0.03, 0.06, 0.1, 0.2, 0.3, 0.45, 0.6, 0.8, 1.0]


def bet_loading(x: float, n_m: float, c: float) -> float:
    """The BET isotherm: n = n_m C x / ((1 − x)(1 − x + C x))."""
    return n_m * c * x / ((1 - x) * (1 - x + c * x))


def bet_area(n_m_mmol_g: float) -> float:
    """The true BET area (m²/g) of a monolayer of n_m mmol/g of N2."""
    return n_m_mmol_g * 1e-3 * AVOGADRO * N2_CROSS_SECTION_M2


def n2_p0_bar() -> float:
    """N2's saturation pressure at 77.35 K as pyGAPS computes it (the p0 analysis uses)."""
    import pygaps

    return float(pygaps.Adsorbate.find("nitrogen").saturation_pressure(77.35, unit="bar"))


def langmuir(p: float, n_m: float, k: float) -> float:
    return n_m * k * p / (1 + k * p)


def dsl(p: float, n1: float, k1: float, n2: float, k2: float) -> float:
    return langmuir(p, n1, k1) + langmuir(p, n2, k2)


def aif(
    path: Path,
    points: list[tuple[float, float]],
    *,
    gas: str,
    kelvin: float | str,
    loading_unit: str = "mmol/g",
    pressure_unit: str = "bar",
    material: str = "M",
    sigma: list[float] | None = None,
) -> Path:
    """An AIF as instruments write them (no pyGAPS backup units: the units items say it)."""
    columns = "_adsorp_pressure\n_adsorp_amount\n" + ("_adsorp_amount_sigma\n" if sigma else "")
    rows = "".join(
        f"{p:.8g} {n:.8g}" + (f" {sigma[i]:.4g}" if sigma else "") + "\n"
        for i, (p, n) in enumerate(points)
    )
    path.write_text(
        "data_test\n_audit_aif_version d546195\n"
        f"_exptl_adsorptive {gas}\n_exptl_temperature {kelvin}\n"
        f"_adsnt_material_id '{material}'\n_units_temperature K\n"
        f"_units_pressure {pressure_unit}\n_units_mass g\n_units_loading '{loading_unit}'\n"
        f"\nloop_\n{columns}{rows}"
    )
    return path


def n2_bet_aif(
    path: Path,
    n_m: float,
    c: float,
    *,
    per_mmol_g: float = 1.0,
    loading_unit: str = "mmol/g",
    material: str = "M",
) -> Path:
    """N2 at 77.35 K on a solid with a monolayer of `n_m` mmol/g, loadings multiplied by
    `per_mmol_g` (the file's unit per mmol/g) and labelled `loading_unit`."""
    p0 = n2_p0_bar()
    pts = [(x * p0, bet_loading(x, n_m, c) * per_mmol_g) for x in BET_X]
    return aif(path, pts, gas="N2", kelvin=77.35, loading_unit=loading_unit, material=material)


def co2_aif(
    path: Path,
    params: tuple[float, ...],
    *,
    kelvin: float = 298.15,
    per_mmol_g: float = 1.0,
    loading_unit: str = "mmol/g",
    material: str = "M",
    pressures: list[float] | None = None,
    gas: str = "CO2",
) -> Path:
    """A (dual-site) Langmuir isotherm: params (n_m, K) or (n1, K1, n2, K2), K in 1/bar."""
    f = langmuir if len(params) == 2 else dsl
    pts = [(p, f(p, *params) * per_mmol_g) for p in pressures or CAPTURE_BAR]
    return aif(path, pts, gas=gas, kelvin=kelvin, loading_unit=loading_unit, material=material)
