"""Isotherms built from the store's measurements (points with their uncertainty), and AIF files
colleagues can open."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ppu.core.units import Q_
from protocols.isotherms.reading import quiet


# -- building isotherms from the store, and AIF ------------------------------------------------
@dataclass
class MeasuredIsotherm:
    """One launch's isotherm points as the store holds them, with what made them."""

    launch_id: int
    sample_id: str | None
    gas: str
    temperature_k: float
    points: list[dict[str, Any]]  # pressure_bar, uptake (mmol/g), sigma, sigma_pressure_bar,
    # branch, p0_bar
    meta: dict[str, Any] = field(default_factory=dict)  # provenance shared by every point

    def to_pygaps(self, material: str | None = None, **properties: Any) -> Any:
        import pandas as pd
        import pygaps

        rows = sorted(self.points, key=lambda r: (r["branch"] != "adsorption", r["index"]))
        df = pd.DataFrame(
            {
                "pressure": [r["pressure_bar"] for r in rows],
                "loading": [r["uptake"] for r in rows],
                "amount_sigma": [r.get("sigma") for r in rows],
                "branch": [0 if r["branch"] == "adsorption" else 1 for r in rows],
            }
        )
        # further columns are pyGAPS's "other keys" (written as AIF loop items, σ in the
        # pressure's and the loading's own units); not named in a property, which pyGAPS's
        # AIF writer would put in a list its reader cannot parse back
        if rows and all(r.get("sigma_pressure_bar") is not None for r in rows):
            df["pressure_sigma"] = [r["sigma_pressure_bar"] for r in rows]
        if all(r.get("p0_bar") for r in rows):
            df["p0"] = [r["p0_bar"] for r in rows]
        with quiet():
            return pygaps.PointIsotherm(
                isotherm_data=df,
                pressure_key="pressure",
                loading_key="loading",
                material=material or self.sample_id or f"launch {self.launch_id}",
                adsorbate=self.gas,
                temperature=self.temperature_k,
                temperature_unit="K",
                pressure_mode="absolute",
                pressure_unit="bar",
                loading_basis="molar",
                loading_unit="mmol",
                material_basis="mass",
                material_unit="g",
                **properties,
            )


_PER_POINT = {
    "pressure_bar",
    "sigma",
    "sigma_pressure_bar",
    "branch",
    "point",
    "equilibration_s",
    "equilibrated",
    "relative_pressure",
    "p0_bar",
    "temperature_k",
}


def measured_isotherms(rows: Iterable[Any]) -> list[MeasuredIsotherm]:
    """Group point measurements (`uptake@<p>bar`, `uptake_des@<p>bar`) by launch."""
    by_launch: dict[int, list[Any]] = {}
    for m in rows:
        if m.name.startswith(("uptake@", "uptake_des@")) and m.provenance:
            by_launch.setdefault(m.launch_id, []).append(m)
    out = []
    for launch_id, ms in sorted(by_launch.items()):
        pts = []
        for k, m in enumerate(ms):
            pv = m.provenance
            value = float(Q_(m.value, m.unit).m_as("mmol/g"))
            rel = pv.get("relative_pressure")
            pts.append(
                {
                    "index": pv.get("point", k),
                    "pressure_bar": float(pv["pressure_bar"]),
                    "uptake": value,
                    "sigma": pv.get("sigma"),
                    "sigma_pressure_bar": pv.get("sigma_pressure_bar"),
                    "branch": pv.get("branch", "adsorption"),
                    # the saturation pressure measured with the point, else the one the
                    # kernel divided by
                    "p0_bar": pv.get("p0_bar")
                    or (float(pv["pressure_bar"]) / rel if rel else None),
                    "temperature_k": pv.get("temperature_k"),
                }
            )
        temps = [p["temperature_k"] for p in pts if p["temperature_k"] is not None]
        first = ms[0].provenance
        shared = {
            k: v
            for k, v in first.items()
            if k not in _PER_POINT and k != "gas" and all(m.provenance.get(k) == v for m in ms)
        }
        out.append(
            MeasuredIsotherm(
                launch_id=launch_id,
                sample_id=ms[0].sample_id,
                gas=str(first.get("gas", "?")),
                temperature_k=round(sum(temps) / len(temps), 2) if temps else math.nan,
                points=pts,
                meta=shared,
            )
        )
    return out


#: pyGAPS adsorbate names for the gases the analyzers dose
ADSORBATES = {"CO2": "carbon dioxide", "N2": "nitrogen", "He": "helium"}


def aif_text(iso: Any, extra: dict[str, str] | None = None) -> str:
    """The isotherm as an AIF (pyGAPS's writer), with further AIF data items (degas time,
    method, isotherm type) placed among the metadata, before the data loops."""
    import pygaps.parsing as pgp
    from gemmi import cif

    with quiet():
        text = pgp.isotherm_to_aif(iso)
    lines = "".join(f"{tag} {cif.quote(str(value))}\n" for tag, value in (extra or {}).items())
    head, loop, rest = text.partition("\nloop_")
    text = head + "\n" + lines + loop + rest if loop else text + lines
    return text if text.endswith("\n") else text + "\n"


def read_aif(path: str | Path) -> Any:
    import pygaps.parsing as pgp

    with quiet():
        return pgp.isotherm_from_aif(str(path))
