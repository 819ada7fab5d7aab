"""`ppu analyze FILE…` and `ppu export CAMPAIGN`: isotherm analysis on pyGAPS, AIF and CSV out.

pyGAPS, pandas and the store are imported inside the commands so `ppu --help` stays instant.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from pathlib import Path
from typing import Annotated, Any

import typer

from ppu.core.errors import BadInput

#: point measurements' provenance keys that are not the isotherm's own metadata
_SKIP_META = {"kernel", "instrument"}


DbOption = Annotated[
    str | None,
    typer.Option(
        "--db", help="Store: a SQLite path or SQLAlchemy URL [default: ./ppu.sqlite or $PPU_DB]"
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Last line of stdout: one JSON object.")]


def register(app: typer.Typer) -> None:
    @app.command("analyze")
    def analyze_cmd(
        files: Annotated[
            list[Path],
            typer.Argument(help="Isotherm files: AIF, pyGAPS JSON/CSV/Excel, instrument exports."),
        ],
        desorption: Annotated[
            str, typer.Option("--desorption", help="Working capacity: desorb at this pressure.")
        ] = "0.01 bar",
        desorption_temperature: Annotated[
            str | None,
            typer.Option(
                "--desorption-temperature",
                help="Working capacity: desorb at this temperature (needs isotherms at two or "
                "more temperatures) [default: the isotherm's own]",
            ),
        ] = None,
        volume_basis: Annotated[
            str | None,
            typer.Option(
                "--volume-basis",
                help="What a loading given as a bare volume (cm3/g) is: stp (cm3(STP)/g) or "
                "liquid. Without it such a file is refused as ambiguous.",
            ),
        ] = None,
        material_molar_mass: Annotated[
            str | None,
            typer.Option(
                "--material-molar-mass",
                help="Molar mass of the material, for loadings per mol of it (mol/mol), e.g. "
                "'654 g/mol'.",
            ),
        ] = None,
        material_density: Annotated[
            str | None,
            typer.Option(
                "--material-density",
                help="Density of the material, for loadings per cm3 of it, e.g. '0.9 g/cm^3'.",
            ),
        ] = None,
        as_json: JsonOption = False,
    ) -> None:
        """Fit, uptakes at 0.15 and 1 bar, BET (N2 77 K), IAST CO2/N2 selectivity, isosteric
        heat and working capacity: whatever the files allow, with units, per material and
        temperature. A file whose units are ambiguous, or that cannot be an adsorption
        isotherm, is refused naming the file and the problem (exit 2)."""
        from ppu.cli.app import emit_json, guard

        def body() -> int:
            from ppu.core.units import UnitError, parse_quantity
            from protocols import isotherms

            def positive(option: str, text: str | None, unit: str) -> float | None:
                if text is None:
                    return None
                try:
                    value = parse_quantity(text, unit).m_as(unit)
                except UnitError as e:
                    raise BadInput(option, str(e)) from None
                if not value > 0:
                    raise BadInput(option, f"'{text}' is not positive")
                return float(value)

            try:
                p_des = parse_quantity(desorption, "bar").m_as("bar")
            except UnitError as e:
                raise BadInput("--desorption", str(e)) from None
            t_des = None
            if desorption_temperature is not None:
                try:
                    t_des = parse_quantity(desorption_temperature, "K").m_as("K")
                except UnitError as e:
                    raise BadInput("--desorption-temperature", str(e)) from None
            if p_des <= 0:
                raise BadInput("--desorption", f"'{desorption}' is not a positive pressure")
            stated = isotherms.Stated(
                volume=volume_basis,
                material_molar_mass=positive("--material-molar-mass", material_molar_mass, "g/mol"),
                material_density=positive("--material-density", material_density, "g/cm^3"),
            )
            loaded = [read for f in files for read in isotherms.load(f)]
            report = isotherms.analyze(
                loaded, stated=stated, desorption_bar=p_des, desorption_k=t_des
            )
            report = {"files": [str(f) for f in files], **report}
            if as_json:
                emit_json(report)
            else:
                _print_report(report)
            return 0

        guard(as_json, body)

    @app.command("export")
    def export_cmd(
        campaign: Annotated[str, typer.Argument(help="Campaign id (see `ppu status`).")],
        fmt: Annotated[
            str,
            typer.Option(
                "--format", help="aif: one AIF per measured isotherm; csv: every experiment."
            ),
        ] = "aif",
        out: Annotated[Path, typer.Option("--out", help="Directory to write into.")] = Path(
            "export"
        ),
        db: DbOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Write a campaign's isotherms as AIF files (with sample, degas, instrument,
        calibration and uncertainty) or its experiments' inputs and results as CSV."""
        from ppu.cli.app import emit_json, guard, store_url

        def body() -> int:
            if fmt not in ("aif", "csv"):
                raise BadInput("--format", f"'{fmt}' is not one of aif, csv")
            url = store_url(db)
            if url.startswith("sqlite:///") and not Path(url[10:]).exists():
                raise BadInput(url[10:], "no store here (run a launch or a campaign first)")
            if out.exists() and not out.is_dir():
                raise BadInput("--out", f"{out} is a file, not a directory")
            from ppu.store import Store

            store = Store(url)
            try:
                if store.session.get(_campaign_model(), campaign) is None:
                    known = _campaign_ids(store)
                    raise BadInput(
                        f"export {campaign}",
                        f"no such campaign (the store has: {', '.join(known) or 'none'})",
                    )
                out.mkdir(parents=True, exist_ok=True)
                written = (
                    export_aif(store, campaign, out)
                    if fmt == "aif"
                    else [export_csv(store, campaign, out)]
                )
            finally:
                store.close()
            if as_json:
                emit_json({"campaign": campaign, "format": fmt, "files": [str(p) for p in written]})
            else:
                for p in written:
                    typer.echo(str(p))
                typer.echo(f"{len(written)} file(s) written to {out}", err=True)
            return 0

        guard(as_json, body)


# -- printing ---------------------------------------------------------------------------------
_LABELS = {
    "co2_uptake_0p15bar": "CO2 uptake at 0.15 bar",
    "co2_uptake_1bar": "CO2 uptake at 1 bar",
    "n2_uptake_1bar": "N2 uptake at 1 bar",
    "bet_area": "BET area",
    "selectivity": "selectivity CO2/N2",
    "heat_of_adsorption": "isosteric heat",
    "working_capacity": "working capacity",
}


def _q(d: dict[str, Any] | None, digits: int = 4) -> str:
    if not d:
        return "—"
    unit = d["unit"].replace("**", "^")
    return f"{d['value']:.{digits}g} {unit}".rstrip()


def _print_report(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.markup import escape

    console = Console(highlight=False, soft_wrap=True)
    echo = console.print
    entries = report["isotherms"]
    for m in report["materials"]:
        echo(f"[bold]{escape(m['material'])}[/]")
        for e in (x for x in entries if x["material"] == m["material"]):
            _print_isotherm(echo, e)
        if m.get("status"):
            echo(f"  [yellow]{m['status']}[/]")
            continue
        if "bet_area" in m:
            echo(f"  BET area: {_q(m['bet_area'])} (from {escape(m['bet_area']['source'])})")
        for gas, h in m.get("heat_of_adsorption", {}).items():
            lo, hi = h["loading_range"]
            temps = ", ".join(_q(t) for t in h["temperatures"])
            echo(
                f"  isosteric heat {gas}: {_q(h['median'], 3)} (median over {_q(lo, 3)} … "
                f"{_q(hi, 3)}; from {temps})"
            )
        for g in m.get("by_temperature", []):
            _print_temperature(echo, g)
        for key, why in m.get("not_computed", {}).items():
            label = _LABELS.get(key, key.replace("_", " "))
            echo(f"  [dim]{label}: not computed: {escape(why)}[/]")
        for w in m.get("warnings", []):
            echo(f"  [yellow]warning[/]: {escape(w)}")


def _print_isotherm(echo: Any, e: dict[str, Any]) -> None:
    from rich.markup import escape

    head = f"  {e['gas']} at {_q(e['temperature'])}  ({escape(e['source'])})"
    if e["status"] != "ok":
        echo(f"{head}: [yellow]{e['status']}[/]: {escape(e.get('why', ''))}")
    else:
        pr = e.get("pressure_range") or []
        span = f"{_q(pr[0])} … {_q(pr[1])}" if pr else ""
        echo(f"{head}: {e['points']} points, {span}; read as {escape(e.get('read_as', ''))}")
    for note in e.get("notes", []):
        echo(f"    [dim]{escape(note)}[/]")
    if "bet" in e:
        b = e["bet"]
        if b.get("area") is None:
            echo(f"    BET area: not computed: {escape(b.get('why', ''))}")
        else:
            lo, hi = b["range_p_p0"]
            failed = [k for k, ok in b["criteria"].items() if not ok]
            echo(
                f"    BET area: {_q(b['area'])}  (C {b['c']:.3g}, p/p0 {lo:.3g}–{hi:.3g},"
                f" {b['points']} points, r {b['corr_coef']:.5f}; p0 {escape(b['p0'])})"
            )
            if failed:
                alt = b.get("rouquerol_area")
                echo(
                    "      fails Rouquerol: "
                    + "; ".join(failed)
                    + (
                        f"; a range meeting them all gives {_q(alt)}"
                        if alt
                        else "; no range meets them all"
                    )
                )
    if "fit" in e:
        f = e["fit"]
        failed = "".join(f"; {k} failed: {escape(v)}" for k, v in f["failed"].items())
        if f["model"]:
            echo(
                f"    fit: {f['model']} over {f['points']} points, {_q(f['from'])} … "
                f"{_q(f['up_to'])}, RMSE {_q(f['rmse'], 2)}{failed}"
            )
        else:
            echo(f"    fit: none{failed}")
    for u in e.get("uptakes", []):
        echo(
            f"    uptake at {_q(u['pressure'])}: "
            + (f"{_q(u['uptake'])} ({u['method']})" if u["uptake"] else u["method"])
        )
    for w in e.get("warnings", []):
        echo(f"    [yellow]warning[/]: {escape(w)}")


def _print_temperature(echo: Any, g: dict[str, Any]) -> None:
    from rich.markup import escape

    echo(f"  at {_q(g['temperature'])}:")
    for key, label in (
        ("co2_uptake_0p15bar", "CO2 uptake at 0.15 bar"),
        ("co2_uptake_1bar", "CO2 uptake at 1 bar"),
        ("n2_uptake_1bar", "N2 uptake at 1 bar"),
    ):
        if key in g:
            echo(f"    {label}: {_q(g[key])} ({g[key]['method']})")
    if "selectivity" in g:
        s = g["selectivity"]
        echo(f"    selectivity CO2/N2: {s['value']:.3g} ({s['method']})")
    if "working_capacity" in g:
        w = g["working_capacity"]
        a, d = w["adsorption"], w["desorption"]
        echo(
            f"    working capacity {w['gas']}: {w['value']:.4g} {w['unit']}  "
            f"({_q(a['pressure'])}, {_q(a['temperature'])} → {_q(d['pressure'])}, "
            f"{_q(d['temperature'])})"
        )
    for key, why in g.get("not_computed", {}).items():
        label = _LABELS.get(key, key.replace("_", " "))
        echo(f"    [dim]{label}: not computed: {escape(why)}[/]")
    for w in g.get("warnings", []):
        echo(f"    [yellow]warning[/]: {escape(w)}")


# -- export -----------------------------------------------------------------------------------
def _campaign_model() -> Any:
    from ppu.store.models import Campaign

    return Campaign


def _campaign_ids(store: Any) -> list[str]:
    from sqlmodel import select

    from ppu.store.models import Campaign

    return list(store.session.exec(select(Campaign.id)).all())


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")


def _quantity_text(d: Any) -> str:
    if isinstance(d, dict) and set(d) == {"value", "unit"}:
        return f"{d['value']:.6g} {d['unit']}".rstrip()
    return str(d)


def export_aif(store: Any, campaign_id: str, out: Path) -> list[Path]:
    """One AIF per isotherm launch of the campaign: points with their 1σ, sample and mass,
    degas conditions, instrument, calibration in force, kernel, versions, raw-data reference."""
    from sqlmodel import select

    import ppu
    from ppu.core.units import Q_
    from ppu.store.models import Experiment, Launch, Measurement, RunDocument, Sample
    from protocols import isotherms

    s = store.session
    launches = {
        lr.id: lr for lr in s.exec(select(Launch).where(Launch.campaign_id == campaign_id)).all()
    }
    if not launches:
        return []
    experiment_of: dict[int, int] = {}
    for e in s.exec(select(Experiment).where(Experiment.campaign_id == campaign_id)).all():
        for lid in e.launches or []:
            experiment_of[lid] = e.number
    rows = s.exec(
        select(Measurement)
        .where(Measurement.launch_id.in_(list(launches)))  # type: ignore[attr-defined]
        .order_by(Measurement.id)
    ).all()
    written = []
    for m in isotherms.measured_isotherms(rows):
        launch = launches[m.launch_id]
        sample = s.get(Sample, m.sample_id) if m.sample_id else None
        inputs = launch.inputs or {}
        outputs = launch.outputs or {}
        props: dict[str, Any] = {
            "instrument": launch.instrument or "",
            # pyGAPS writes material_batch as AIF's _adsnt_sample_id: the sample's id
            "material_batch": m.sample_id or f"launch {m.launch_id}",
            "date": dt.datetime.fromtimestamp(launch.created_wall, dt.UTC).isoformat(),
            "ppu_kernel": launch.kernel,
            "ppu_launch": m.launch_id,
            "ppu_campaign": campaign_id,
            "ppu_experiment": experiment_of.get(m.launch_id, "?"),
            "ppu_version": _measured_with(m.meta),
            "ppu_exported_by": ppu.__version__,
        }
        if sample is not None and sample.mass_value is not None:
            props["material_mass"] = Q_(sample.mass_value, sample.mass_unit or "g").m_as("g")
            props["material_mass_unit"] = "g"
        # calibration in force: the kernel's inputs and what it measured (free space)
        for key in ("manifold_volume", "manifold_temperature"):
            if key in inputs:
                props[f"calibration_{key}"] = _quantity_text(inputs[key])
        if "free_volume" in outputs:
            props["calibration_free_space"] = _quantity_text(outputs["free_volume"])
        for key, value in m.meta.items():
            if key not in _SKIP_META and key not in ("ppu_version", "software"):
                props[f"provenance_{key}"] = value if isinstance(value, str) else repr(value)
        start = s.exec(
            select(RunDocument).where(
                RunDocument.launch_id == m.launch_id, RunDocument.name == "start"
            )
        ).first()
        props["raw_data"] = f"{store.url} launch {m.launch_id}" + (
            f" run {start.run_uid}" if start is not None and start.run_uid else ""
        )
        extra = {"_exptl_method": "volumetric", "_exptl_isotherm_type": "excess"}
        degas = _degas(s, sample, launches)
        if degas.get("temperature_k") is not None:
            props["activation_temperature"] = degas["temperature_k"]
        if degas.get("time_h") is not None:
            extra["_adsnt_degas_time"] = f"{degas['time_h']:.6g}"
            extra["_units_time"] = "h"
        if degas.get("summary"):
            extra["_adsnt_degas_summary"] = degas["summary"]
        iso = m.to_pygaps(material=m.sample_id or f"launch {m.launch_id}", **props)
        name = _safe(
            f"{campaign_id}_e{experiment_of.get(m.launch_id, 0):03d}_{m.sample_id or 'nosample'}"
            f"_{m.gas}_{m.temperature_k:.0f}K_launch{m.launch_id}"
        )
        path = out / f"{name}.aif"
        path.write_text(isotherms.aif_text(iso, extra))
        written.append(path)
    return written


def _measured_with(meta: dict[str, Any]) -> str:
    """ppu's version when the points were measured: the runtime records `software` ('ppu
    0.1.0') with every measurement (some stores hold `ppu_version`); else this ppu's."""
    import ppu

    recorded = meta.get("ppu_version") or meta.get("software")
    return str(recorded).removeprefix("ppu ").strip() if recorded else ppu.__version__


def _degas(session: Any, sample: Any, launches: dict[int, Any]) -> dict[str, Any]:
    """Degas (activation) conditions of a sample: the inputs of the launch that made it."""
    from ppu.core.units import Q_
    from ppu.store.models import Launch

    if sample is None or sample.made_by is None:
        return {}
    made = launches.get(sample.made_by) or session.get(Launch, sample.made_by)
    if made is None or made.kernel != "activate":
        return {}
    inputs = made.inputs or {}
    out: dict[str, Any] = {}
    t = inputs.get("temperature")
    if isinstance(t, dict):
        out["temperature_k"] = Q_(t["value"], t["unit"]).m_as("K")
    h = inputs.get("time")
    if isinstance(h, dict):
        out["time_h"] = Q_(h["value"], h["unit"]).m_as("h")
    out["summary"] = (
        ", ".join(f"{k} {_quantity_text(v)}" for k, v in inputs.items() if k != "sample")
        + f" (launch {made.id} on {made.instrument})"
    )
    return out


def export_csv(store: Any, campaign_id: str, out: Path) -> Path:
    """Every experiment of the campaign, one row: parameters, status, objectives and every
    step's outputs, the unit of each column in its header."""
    from sqlmodel import select

    from ppu.core.units import Q_
    from ppu.store.models import Campaign, Experiment, Launch

    s = store.session
    camp = s.get(Campaign, campaign_id)
    steps = (
        [
            w.get("step", w.get("kernel"))
            for w in ((camp.config or {}).get("campaign") or {}).get("workflow", [])
        ]
        if camp
        else []
    )
    experiments = s.exec(
        select(Experiment).where(Experiment.campaign_id == campaign_id).order_by(Experiment.number)  # type: ignore[arg-type]
    ).all()
    units: dict[str, str] = {}
    records = []
    for e in experiments:
        rec: dict[str, Any] = {
            "campaign": campaign_id,
            "experiment": e.number,
            "status": e.status,
            "error": e.error or "",
        }

        def put(rec: dict[str, Any], column: str, value: Any) -> None:
            if isinstance(value, dict) and set(value) == {"value", "unit"}:
                unit = units.setdefault(column, value["unit"])
                v = value["value"]
                rec[column] = "" if v is None else Q_(v, value["unit"]).m_as(unit)
            else:
                units.setdefault(column, "")
                rec[column] = value

        for k, v in (e.params or {}).items():
            put(rec, f"param.{k}", v)
        for k, v in (e.objectives or {}).items():
            put(rec, f"objective.{k}", v)
        for i, lid in enumerate(e.launches or []):
            launch = s.get(Launch, lid)
            if launch is None:
                continue
            step = steps[i] if i < len(steps) else launch.kernel
            put(rec, f"{step}.state", launch.state)
            for k, v in (launch.outputs or {}).items():
                put(rec, f"{step}.{k}", v)
        records.append(rec)
    columns = ["campaign", "experiment", "status", "error"]
    columns += [c for c in units if c not in columns]
    path = out / f"{_safe(campaign_id)}_experiments.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([f"{c} [{units[c]}]" if units.get(c) else c for c in columns])
        for rec in records:
            w.writerow([rec.get(c, "") for c in columns])
    return path
