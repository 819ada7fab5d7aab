"""What a campaign did, as `ppu run` prints it and the store keeps it: counts by status, the
best experiment (or the Pareto front) with units, lab time, utilisation per instrument."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ppu.campaign.params import params_to_json

if TYPE_CHECKING:
    from ppu.campaign.loop import CampaignRun, Candidate


def summarize(run: CampaignRun, wall_s: float, db: str) -> dict[str, Any]:
    spec = run.spec
    cands = run.candidates
    duration = run.clock.now()
    best = run.best()

    def described(c: Candidate) -> dict[str, Any]:
        return {
            "experiment": c.number,
            "params": params_to_json(spec, c.params),
            "objectives": {
                o.name: {"value": round(c.objectives[o.name], 6), "unit": o.unit}
                for o in spec.objectives
            },
        }

    first_batch = [c for c in cands[: spec.batch_size] if c.status == "COMPLETED"]
    o = spec.objectives[0]
    summary: dict[str, Any] = {
        "campaign_id": run.id,
        "name": spec.name,
        "seed": spec.seed,
        "planner": spec.planner,
        "experiments": len(cands),
        "completed": sum(c.status == "COMPLETED" for c in cands),
        "failed": sum(c.status == "FAILED" for c in cands),
        "abandoned": sum(c.status == "ABANDONED" for c in cands),
        "best": described(best) if best else None,
        "first_batch_best": (
            max(c.objectives[o.name] for c in first_batch)
            if first_batch and o.maximize
            else min(c.objectives[o.name] for c in first_batch)
            if first_batch
            else None
        ),
        "virtual_duration_s": round(duration, 3),
        "virtual_duration_h": round(duration / 3600, 3),
        "wall_s": round(wall_s, 3),
        "utilisation": {
            name: round(inst.lane.busy_time() / duration, 4) if duration > 0 else 0.0
            for name, inst in run.rt.instruments.items()
        },
        "serial_exchanges": run.rt.serial_exchanges,
        "db": db,
    }
    if len(spec.objectives) > 1:
        summary["pareto"] = [described(c) for c in run.pareto()]
    if run.screen is not None:
        summary["fidelities"] = fidelity_summary(run)
    return summary


def fidelity_summary(run: CampaignRun) -> dict[str, Any]:
    """Computed and measured evaluations side by side, with their cost, and how well the
    twin's estimates ranked what the lab then measured (Spearman over measured points)."""
    from planner.multi_fidelity import spearman

    assert run.screen is not None
    f = run.screen.fidelity
    est, got = [], []
    for c in run.candidates:
        twin = ((c.row.suggestion or {}).get("predictions") or {}).get("twin")
        if c.status == "COMPLETED" and twin is not None and f.objective in c.objectives:
            est.append(twin["mean"])
            got.append(c.objectives[f.objective])
    rho = spearman(est, got)
    lab_s = sum(inst.lane.busy_time() for inst in run.rt.instruments.values())
    # from the journal, so a resumed campaign counts what earlier controllers computed too
    states = ("done", "failed", "cancelled", "interrupted", "replaced")
    rows = [r for r in run.store.campaign_launches(run.id, states) if r.kernel == f.kernel.name]
    done = sum(r.state == "done" for r in rows)
    return {
        "computed": {
            "kernel": f.kernel.name,
            "model": f.kernel.model,
            "model_version": f.kernel.model_version,
            "estimates": f.objective,
            "launched": len(rows),
            "done": done,
            "failed": sum(r.state == "failed" for r in rows),
            "declared_cpu_s": done * f.cpu_s,
            "rounds_this_controller": run.screen.counts.rounds,
        },
        "measured": {
            "experiments": sum(c.status in ("COMPLETED", "FAILED") for c in run.candidates),
            "instrument_time_h": round(lab_s / 3600, 3),
        },
        "twin_vs_measured": {
            "pairs": len(est),
            "spearman": None if rho != rho else round(rho, 4),
        },
    }


def summary_line(summary: dict[str, Any]) -> str:
    """The summary in one line, as a notification or a log says it."""
    text = (
        f"{summary['experiments']} experiments: {summary['completed']} completed, "
        f"{summary['failed']} failed, {summary['abandoned']} abandoned"
    )
    best = summary.get("best")
    if best:
        objs = ", ".join(
            f"{k} {v['value']:.3g} {v['unit']}".rstrip() for k, v in best["objectives"].items()
        )
        text += f"; best: experiment {best['experiment']} ({objs})"
    return text + f"; {summary['virtual_duration_h']:.1f} h of lab time"
