"""One basis for every isotherm (absolute bar, mmol per g of material, K), reached through
pyGAPS's own conversions, and refused where the file does not say which basis it is in.

pyGAPS reads a bare volume (`cm3/g`) as gas at the isotherm's temperature, at its saturation
pressure (its `volume_gas` basis): a chemist's `cm3/g` is nearly always cm3(STP)/g, so taking
pyGAPS's reading silently makes an N2 77 K isotherm 3.6 times too large and a CO2 298 K one
124 times. Such a file is refused unless the person states what the volume is. Loadings per
mol or per cm3 of material need the material's molar mass or density; without one the file
is refused too, naming what is missing."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ppu.core.errors import BadInput
from protocols.isotherms.reading import gas_label, plain_reason, pygaps_said

#: the units every isotherm is brought to: absolute bar, mmol per g of material, K
NORMALIZED_UNITS = {
    "temperature_unit": "K",
    "pressure_mode": "absolute",
    "pressure_unit": "bar",
    "loading_basis": "molar",
    "loading_unit": "mmol",
    "material_basis": "mass",
    "material_unit": "g",
}

#: what a loading given as a bare volume may be said to be
VOLUME_BASES = {
    "stp": "gas at STP (0 °C, 1 atm): cm3(STP)",
    "liquid": "the adsorbate as a liquid at the isotherm's temperature",
}

#: per-point columns carried through, in the file's pressure or loading unit
_PRESSURE_COLUMNS = ("pressure_sigma", "p0", "pressure_saturation")
_LOADING_COLUMNS = ("amount_sigma",)


@dataclass(frozen=True)
class Stated:
    """What the person says about files that do not say it themselves."""

    volume: str | None = None  # a key of VOLUME_BASES
    material_molar_mass: float | None = None  # g/mol
    material_density: float | None = None  # g/cm3

    def __post_init__(self) -> None:
        if self.volume is not None and self.volume not in VOLUME_BASES:
            raise BadInput(
                "--volume-basis", f"'{self.volume}' is not one of {', '.join(VOLUME_BASES)}"
            )


@dataclass
class Normalized:
    """An isotherm in NORMALIZED_UNITS, with how it was read and what pyGAPS said."""

    isotherm: Any
    read_as: str  # the file's units as understood, e.g. 'cm3(STP)/g, absolute kPa'
    notes: list[str] = field(default_factory=list)


def normalized(iso: Any, source: str, stated: Stated | None = None) -> Normalized:
    """The isotherm in absolute bar and mmol per g, built afresh (a pyGAPS isotherm that has
    used CoolProp cannot be copied). BadInput names `source` and the ambiguity."""
    import pandas as pd
    import pygaps

    stated = stated or Stated()
    basis, scale, read_as, notes = _resolve(iso, source, stated)
    if iso.pressure_mode.startswith("relative"):
        _refuse_relative_without_p0(iso, source)
    raw = iso.data_raw
    loading_raw = raw[iso.loading_key].astype(float) * scale
    frame = pd.DataFrame({"pressure": raw[iso.pressure_key].astype(float), "loading": loading_raw})
    frame["branch"] = raw["branch"].astype(int).values
    material = pygaps.Material(
        str(iso.material),
        **{
            k: v
            for k, v in (
                ("molar_mass", basis.pop("_molar_mass", None)),
                ("density", basis.pop("_density", None)),
            )
            if v is not None
        },
    )
    try:
        with pygaps_said():
            as_read = pygaps.PointIsotherm(
                isotherm_data=frame,
                pressure_key="pressure",
                loading_key="loading",
                material=material,
                adsorbate=str(iso.adsorbate),
                temperature=float(iso.temperature),
                temperature_unit="K",
                pressure_mode=iso.pressure_mode,
                pressure_unit=iso.pressure_unit,
                **basis,
            )
            p = as_read.pressure(pressure_mode="absolute", pressure_unit="bar")
            n = as_read.loading(**{k: NORMALIZED_UNITS[k] for k in _LOADING_KEYS})
    except Exception as e:
        why = plain_reason(e) or "pyGAPS cannot convert it"
        raise BadInput(source, f"cannot bring {read_as} to bar and mmol/g: {why}") from None
    if p is None or n is None:
        raise BadInput(source, f"cannot bring {read_as} to bar and mmol/g")
    if iso.pressure_mode.startswith("relative"):
        notes.append(
            f"relative pressures made absolute with pyGAPS's saturation pressure of "
            f"{gas_label(iso)} at {float(iso.temperature):g} K"
        )
    out = pd.DataFrame({"pressure": list(p), "loading": list(n), "branch": frame["branch"]})
    p_factor = _factor(frame["pressure"], out["pressure"])
    n_factor = _factor(loading_raw, out["loading"])
    for key in iso.other_keys:
        column = raw[key]
        if key in _LOADING_COLUMNS and n_factor is not None:
            out[key] = pd.to_numeric(column, errors="coerce").astype(float) * n_factor
        elif key in _PRESSURE_COLUMNS and p_factor is not None and iso.pressure_mode == "absolute":
            name = "p0" if key == "pressure_saturation" else key
            out[name] = pd.to_numeric(column, errors="coerce").astype(float) * p_factor
    with pygaps_said():
        iso_out = pygaps.PointIsotherm(
            isotherm_data=out,
            pressure_key="pressure",
            loading_key="loading",
            material=str(iso.material),
            adsorbate=str(iso.adsorbate),
            temperature=float(iso.temperature),
            **NORMALIZED_UNITS,
        )
    return Normalized(iso_out, read_as, notes)


_LOADING_KEYS = ("loading_basis", "loading_unit", "material_basis", "material_unit")


def _factor(before: Any, after: Any) -> float | None:
    """The linear factor a conversion applied (unit and basis conversions are proportional)."""
    ratios = sorted(
        float(a) / float(b)
        for a, b in zip(after, before, strict=True)
        if math.isfinite(float(a)) and math.isfinite(float(b)) and float(b) != 0
    )
    return ratios[len(ratios) // 2] if ratios else None


def _resolve(iso: Any, source: str, stated: Stated) -> tuple[dict[str, Any], float, str, list[str]]:
    """The basis the file's loadings are really in (pyGAPS keywords), a factor applied to the
    numbers first, a description of the units as read, and notes."""
    from pygaps.units.converter_unit import _VOLUME_UNITS

    lb, lu = iso.loading_basis, iso.loading_unit
    mb, mu = iso.material_basis, iso.material_unit
    gas = gas_label(iso)
    kelvin = float(iso.temperature)
    notes: list[str] = []
    scale = 1.0
    if lb is None or mb is None:
        raise BadInput(source, "the loading unit is not stated (e.g. mmol/g, cm3(STP)/g)")
    shown = f"{lu}/{mu}" if lu and mu else f"{lb} ({mb} basis)"
    if lb == "volume_gas":
        if stated.volume is None:
            factor = _vapour_factor(iso)
            as_vapour = f" (×{factor:.3g} against STP)" if factor else ""
            raise BadInput(
                source,
                f"loading in {shown} is ambiguous: cm3(STP)/g, or {gas} as a liquid? pyGAPS "
                f"would read it as {gas} vapour at {kelvin:g} K{as_vapour}; state it with "
                "--volume-basis stp or --volume-basis liquid",
            )
        if stated.volume == "stp":
            scale = float(_VOLUME_UNITS[lu])  # → cm3
            lb, lu = "molar", "cm3(STP)"
            notes.append(f"loading in {shown} taken as {lu}/{mu}, as stated (--volume-basis stp)")
        else:
            lb = "volume_liquid"
            notes.append(f"loading in {shown} taken as liquid {gas}, as stated")
    if lb in ("percent", "fraction"):
        if mb != "mass":
            raise BadInput(source, f"loading as a {lb} of the material's {mb} is not convertible")
        mu = mu or "g"
        shown = "wt%" if lb == "percent" else "mass fraction"
        notes.append(
            f"{shown} taken as mass of {gas} per mass of the empty sample (pyGAPS's reading), "
            "not per mass of the loaded sample"
        )
    basis: dict[str, Any] = {
        "loading_basis": lb,
        "loading_unit": lu,
        "material_basis": mb,
        "material_unit": mu,
    }
    # A loading per mole or per volume of material needs the material's molar mass or
    # density: the file's material properties, else the one stated on the command line.
    needed = {
        "molar": ("molar_mass", stated.material_molar_mass, "--material-molar-mass '… g/mol'"),
        "volume": ("density", stated.material_density, "--material-density '… g/cm^3'"),
    }
    if mb in needed:
        prop, given, flag = needed[mb]
        material_props = getattr(iso.material, "properties", {}) or {}
        value = material_props.get(prop) or given
        if not value:
            what = prop.replace("_", " ")
            raise BadInput(
                source, f"loading in {shown} is per {mu} of material: its {what} is needed ({flag})"
            )
        basis[f"_{prop}"] = float(value)
    pressure = (
        f"absolute {iso.pressure_unit}"
        if iso.pressure_mode == "absolute"
        else f"{iso.pressure_mode} pressure"
    )
    return basis, scale, f"{shown}, {pressure}", notes


def _refuse_relative_without_p0(iso: Any, source: str) -> None:
    """Relative pressures are made absolute with the gas's vapour pressure at the isotherm's
    temperature: there must be one (CoolProp extrapolates nonsense below the triple point)."""
    from protocols.isotherms.checks import condensation_bar

    gas, kelvin = gas_label(iso), float(iso.temperature)
    found = condensation_bar(iso.adsorbate, kelvin)
    if found is not None and not found[1]:
        return
    why = (
        f"pyGAPS knows no vapour pressure of {gas}"
        if found is None and _backend(iso) is None
        else f"{gas} has no vapour pressure at {kelvin:g} K ("
        + ("a solid there" if found is not None else "above its critical temperature")
        + ")"
    )
    raise BadInput(source, f"pressures are relative (p/p0) but {why}: give absolute pressures")


def _backend(iso: Any) -> Any:
    try:
        with pygaps_said():
            return iso.adsorbate.backend
    except Exception:
        return None


def _vapour_factor(iso: Any) -> float | None:
    """How much larger pyGAPS's reading of a bare volume is than cm3(STP)."""
    try:
        with pygaps_said():
            molar_density = iso.adsorbate.gas_molar_density(float(iso.temperature))
    except Exception:
        return None
    stp = 101325.0 / (8.314462618 * 273.15) / 1e6  # mol/cm3
    return molar_density / stp if molar_density and math.isfinite(molar_density) else None
