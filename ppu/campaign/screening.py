"""The digital screen beside the lab: computed launches of a campaign's `[[fidelities]]`
kernel on the points the multi-fidelity planner asks about, fed back as computed results.

Computed launches hold no instrument: they run on the runtime's compute pool (local
threads, or a Dask cluster) while the lab works. In a dry-run they cost the lab time the
kernel declares (`cost_s`), never their wall time, so a campaign is the same with or without
a cluster. Each is journaled like any launch; a failed estimate is counted and dropped (it
says nothing about the chemistry).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ppu.campaign.fidelities import FidelitySpec
from ppu.core.clock import Clock
from ppu.core.units import Q_
from ppu.runtime.runtime import LaunchHandle, Runtime


class ScreenFailed(RuntimeError):
    """No estimate of a round came back: the twin (or the cluster it runs on) is broken."""


@dataclass
class ScreenCounts:
    """What the screen has cost so far (the summary and `--json` report these)."""

    launched: int = 0
    done: int = 0
    failed: int = 0
    cpu_s: float = 0.0  # declared
    rounds: int = 0
    last_errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "launched": self.launched,
            "done": self.done,
            "failed": self.failed,
            "declared_cpu_s": self.cpu_s,
            "rounds": self.rounds,
        }


class DigitalScreen:
    """Runs screening rounds for one fidelity; the campaign loop says when and how many."""

    def __init__(self, fidelity: FidelitySpec, rt: Runtime, clock: Clock, spec: Any) -> None:
        self.fidelity = fidelity
        self.rt = rt
        self.clock = clock
        self.spec = spec
        self.counts = ScreenCounts()

    def inputs_for(self, params: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for iname, v in self.fidelity.inputs.items():
            if isinstance(v, tuple) and v[0] == "param":
                p = self.spec.params[v[1]]
                value = params[v[1]]
                if p.categorical:
                    out[iname] = value
                else:
                    out[iname] = round(float(value)) if p.integer else Q_(float(value), p.unit)
            else:
                out[iname] = v
        return out

    async def run(self, planner: Any, n: int) -> list[Any]:
        """One round: `n` points from the planner, a computed launch each, the results
        (computed `Result`s, in launch order) once all have ended."""
        from planner import Result

        with self.clock.holding():
            points = await self.clock.loop.run_in_executor(None, lambda: planner.screen(n))
        handles: list[tuple[dict[str, Any], LaunchHandle]] = []
        for s in points:
            params = dict(s.params)
            h = self.rt.launch(
                self.fidelity.kernel, note="digital screen", **self.inputs_for(params)
            )
            handles.append((params, h))
        self.counts.launched += len(handles)
        self.counts.rounds += 1
        if handles:
            await asyncio.wait([h.future for _, h in handles])
        results = self._results(handles, Result)
        if handles and not results:
            first = next((h.row.error for _, h in handles if h.row.error), "no output")
            raise ScreenFailed(
                f"every estimate of {self.fidelity.kernel.name} in this round failed "
                f"({len(handles)} launches), e.g.: {first}"
            )
        return results

    def _results(self, handles: Sequence[tuple[dict, LaunchHandle]], result: Any) -> list[Any]:
        out = []
        for params, h in handles:
            if h.future.cancelled():
                continue
            if h.future.exception() is not None or h.state != "done":
                self.counts.failed += 1
                if len(self.counts.last_errors) < 3 and h.row.error:
                    self.counts.last_errors.append(h.row.error)
                continue
            q = h.outputs.get(self.fidelity.output)
            if q is None:
                self.counts.failed += 1
                continue
            self.counts.done += 1
            self.counts.cpu_s += self.fidelity.cpu_s
            value = float(q.m_as(self.fidelity.unit))
            out.append(
                result(params, "COMPLETED", {self.fidelity.objective: value}, fidelity="computed")
            )
        return out
