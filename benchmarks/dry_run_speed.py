"""Dry-run speed: virtual lab time / wall time of the demo campaign, planner included.

Runs exactly what `ppu demo --budget N --seed S --json` runs, in a fresh store, and prints
the ratio (target ≥ 10,000: a week of lab time in ≤ 60 s), with the campaign's figures.

    .venv/bin/python benchmarks/dry_run_speed.py [--budget 24] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=int, default=24)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "ppu.cli.main",
                "demo",
                "--budget",
                str(args.budget),
                "--seed",
                str(args.seed),
                "--json",
            ],
            cwd=tmp,
            capture_output=True,
            text=True,
            check=True,
        )
        process_s = time.perf_counter() - t0
    s = json.loads(proc.stdout.strip().splitlines()[-1])
    ratio = s["virtual_duration_s"] / s["wall_s"]
    print(f"demo campaign, budget {args.budget}, seed {args.seed}, planner {s['planner']}")
    print(
        f"experiments: {s['experiments']} ({s['completed']} completed, {s['failed']} failed, "
        f"{s['abandoned']} abandoned)"
    )
    print(
        f"virtual lab time: {s['virtual_duration_s']:.0f} s = "
        f"{s['virtual_duration_s'] / 86400:.1f} days"
    )
    print(
        f"wall time (campaign): {s['wall_s']:.1f} s; whole process incl. start-up: "
        f"{process_s:.1f} s"
    )
    print(
        f"virtual / wall: {ratio:,.0f}  (target ≥ 10,000: {'met' if ratio >= 1e4 else 'NOT met'})"
    )
    best = s["best"]["objectives"] if s["best"] else {}
    print(f"best: {best}; first batch best: {s['first_batch_best']}")
    busiest = max(s["utilisation"], key=s["utilisation"].get)
    print(
        f"utilisation: {s['utilisation']} (bottleneck {busiest} "
        f"{s['utilisation'][busiest] * 100:.1f} %)"
    )


if __name__ == "__main__":
    main()
