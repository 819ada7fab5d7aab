"""A campaign: search space + objectives + workflow + budget + planner, run as a closed loop.

The campaign file and its checks are `ppu.campaign.file`; the planner it names is built by
`ppu.campaign.planning`; `ppu.campaign.summary` says how it went; this module is the loop.

The loop decides only at quiescent instants of the lab's clock (`clock.idle()`), so the same
seed gives the same campaign. It keeps the first workflow step's instruments fed: whenever
fewer than `batch_size` candidates are waiting for their first step, it asks the planner
for more, with the candidates still in flight as pending points.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from planner.base import STATUSES
from ppu.campaign.file import (
    CampaignSpec,
    ConstraintSpec,
    ObjectiveSpec,
    ParamSpec,
    StepSpec,
    load_campaign,
)
from ppu.campaign.params import params_from_json, params_to_json
from ppu.campaign.planning import PlannerFailed, make_planner, saved_planner
from ppu.campaign.proposal import check_proposal
from ppu.campaign.screening import DigitalScreen, ScreenFailed
from ppu.campaign.summary import summarize, summary_line
from ppu.core.clock import Clock
from ppu.core.errors import BadInput, describe_error
from ppu.core.units import Q_
from ppu.runtime.control import ControlDesk, RecordedOperator
from ppu.runtime.holds import CampaignLock
from ppu.runtime.lock_watch import LockWatch
from ppu.runtime.notices import CampaignEnded
from ppu.runtime.runtime import LaunchHandle, Runtime
from ppu.store import Store
from ppu.store.models import Campaign, Experiment
from ppu.store.models import Launch as LaunchRow

__all__ = [
    "CampaignRun",
    "CampaignSpec",
    "ConstraintSpec",
    "ObjectiveSpec",
    "ParamSpec",
    "StepSpec",
    "load_campaign",
    "run_campaign",
]


# -- running -------------------------------------------------------------------------------


@dataclass
class Candidate:
    number: int
    params: dict[str, Any]  # floats in each parameter's unit, or category names
    suggestion: Any
    row: Experiment
    launches: dict[str, LaunchHandle] = field(default_factory=dict)
    status: str = "running"
    objectives: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    task: asyncio.Task[None] | None = None
    #: a person settled one of its launches as done after a crash: nothing was read, so a
    #: failure downstream says nothing about the chemistry
    settled_by_person: bool = False
    #: who proposed it from outside the planner (an agent): it waits for a person's approval
    proposed_by: str | None = None

    @property
    def waiting_for_first_step(self) -> bool:
        first = next(iter(self.launches.values()), None)
        return first is None or first.state in ("queued", "waiting")


class CampaignRun:
    def __init__(
        self,
        spec: CampaignSpec,
        rt: Runtime,
        store: Store,
        clock: Clock,
        campaign_id: str,
        *,
        on_progress: Callable[[CampaignRun], None] | None = None,
        planner: Any = None,
    ) -> None:
        self.spec = spec
        self.rt = rt
        self.store = store
        self.clock = clock
        self.id = campaign_id
        self.on_progress = on_progress
        self.candidates: list[Candidate] = []
        self._wake = asyncio.Event()
        self._watchers: set[asyncio.Future[None]] = set()
        self.planner = planner if planner is not None else make_planner(spec)
        #: resumed candidates: the launches an earlier controller made for them, by step
        self._resumed: dict[int, dict[str, LaunchRow]] = {}
        #: held launches (by id) and the person's word on each, when it comes
        self._decisions: dict[int, asyncio.Future[tuple[str, str]]] = {}
        self.restored: dict[str, int] = {}  # what `restore` found
        self.desk: ControlDesk | None = None
        self.abort_requested: str | None = None  # who asked
        self.safe_states: dict[str, str] = {}
        #: the digital screen of a multi-fidelity campaign, and how many estimates it owes
        self.screen: DigitalScreen | None = None
        self._screen_due = 0
        if spec.fidelities:
            self.screen = DigitalScreen(spec.fidelities[0], rt, clock, spec)
            if not getattr(self.planner, "computed", None):
                self._screen_due = spec.fidelities[0].first_screen

    @property
    def finished(self) -> list[Candidate]:
        return [c for c in self.candidates if c.status != "running"]

    def _budget_left(self) -> int:
        n = len(self.candidates)
        left = (self.spec.max_experiments - n) if self.spec.max_experiments else 10**9
        if self.spec.max_lab_time_s is not None and self.clock.now() >= self.spec.max_lab_time_s:
            left = 0
        return max(0, left)

    def request_abort(self, who: str) -> None:
        self.abort_requested = who
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    # -- resuming -----------------------------------------------------------------------
    def restore(self, desk: ControlDesk) -> dict[str, int]:
        """Pick up a campaign an earlier controller left: the planner as last saved, every
        finished experiment as it ended, every running one from the step it reached. An
        interrupted launch that is safe to repeat runs again; one that is not is held for a
        person (`ppu holds`). Returns counts for the log."""
        from ppu.runtime.holds import IN_FLIGHT, hold_message

        self.desk = desk
        rows = self.store.experiments(self.id)
        owned = self.store.launches(i for r in rows for i in (r.launches or []))
        counts = {"experiments": len(rows), "resumed": 0, "held": 0, "orphans": 0}
        for row in rows:
            params = params_from_json(self.spec, row.params or {})
            c = Candidate(row.number, params, row.suggestion, row)
            c.proposed_by = (row.suggestion or {}).get("proposed_by")
            self.candidates.append(c)
            if row.status in STATUSES:
                c.status, c.error = row.status, row.error
                c.objectives = {k: v["value"] for k, v in (row.objectives or {}).items()}
                continue
            counts["resumed"] += 1
            existing = {
                step.name: owned[lid]
                for step, lid in zip(self.spec.workflow, row.launches or [], strict=False)
                if lid in owned
            }
            self._resumed[c.number] = existing
            for launch in existing.values():
                stopped = launch.state in ("held", "running", "interrupted")
                if stopped and launch.started_v is not None and not launch.rerun_safe:
                    if launch.state != "held":
                        self.rt.hold_launch(launch, hold_message(launch))
                    decision = desk.expect_resolution(launch.id)  # type: ignore[arg-type]
                    given = self.store.resolution_taken(launch.id)  # type: ignore[arg-type]
                    if given is not None:  # taken by the last controller, never settled
                        decision.set_result((given.argument, given.who))
                    self._decisions[launch.id] = decision  # type: ignore[index]
                    counts["held"] += 1
        for launch in self.store.campaign_launches(self.id, states=IN_FLIGHT):
            if launch.id not in owned:  # made, then the controller stopped before it was owned
                self.rt.replace(launch)
                counts["orphans"] += 1
        return counts

    async def run(self) -> None:
        for c in self.candidates:  # resumed ones carry on from where they were
            if c.status == "running" and c.task is None:
                c.task = asyncio.ensure_future(self._run_candidate(c, self._resumed.get(c.number)))
        while True:
            await self.clock.idle()  # decide only when the lab is quiescent
            self._wake.clear()
            if self.abort_requested is not None:
                await self._abort()
                return
            backlog = sum(
                1 for c in self.candidates if c.status == "running" and c.waiting_for_first_step
            )
            n = min(self.spec.batch_size - backlog, self._budget_left())
            if self.rt.paused:
                n = 0
            if n > 0 and self._screen_due:
                await self._run_screen()
            if n > 0:
                await self._suggest_and_launch(n)
            active = [c.task for c in self.candidates if c.task and not c.task.done()]
            if not active:
                if self._budget_left() == 0 or (n <= 0 and not self.rt.paused):
                    break
                if not self.rt.paused:
                    continue
            waker = asyncio.ensure_future(self._wake.wait())
            await asyncio.wait([*active, waker], return_when=asyncio.FIRST_COMPLETED)
            waker.cancel()

    async def _abort(self) -> None:
        for c in self.candidates:
            if c.task is not None and not c.task.done():
                c.task.cancel()
        await asyncio.gather(*(c.task for c in self.candidates if c.task), return_exceptions=True)
        for c in self.candidates:
            self._close_untaken(c, "the campaign was aborted")
        self.safe_states = await self.rt.abort(f"aborted by {self.abort_requested}")
        for c in self.candidates:
            for h in c.launches.values():
                if h.future.done() and not h.future.cancelled():
                    h.future.exception()  # the journal has it; nothing is left unread
        for c in self.candidates:
            if c.status == "running":
                c.status, c.error = "ABANDONED", f"campaign aborted by {self.abort_requested}"
                self.store.update_experiment(
                    c.row, status=c.status, error=c.error, ended_v=self.clock.now()
                )

    async def _run_screen(self) -> None:
        """Estimates the planner asked for, ingested before it chooses what the lab measures
        next; the planner's state is saved with them (a resume does not redo them)."""
        assert self.screen is not None
        n, self._screen_due = self._screen_due, 0
        try:
            results = await self.screen.run(self.planner, n)
            self.planner.ingest(results)
        except ScreenFailed as e:
            raise PlannerFailed(f"digital screen: {e}") from e
        except Exception as e:
            raise PlannerFailed(
                f"planner {self.spec.planner}: screen failed: {type(e).__name__}: {e}"
            ) from e
        self.store.save_planner_state(self.id, *self._planner_state())

    async def _suggest_and_launch(self, n: int) -> None:
        pending = [c.params for c in self.candidates if c.status == "running"]
        with self.clock.holding():
            try:
                suggestions = await self.clock.loop.run_in_executor(
                    None, lambda: self.planner.suggest(n, pending)
                )
            except Exception as e:
                raise PlannerFailed(
                    f"planner {self.spec.planner}: suggest failed: {type(e).__name__}: {e}"
                ) from e
        if self.spec.planner_cost_s:
            await asyncio.sleep(self.spec.planner_cost_s)
        rows = []
        for i, s in enumerate(suggestions):
            number = len(self.candidates) + 1 + i
            row = Experiment(
                campaign_id=self.id,
                number=number,
                params=params_to_json(self.spec, s.params),
                suggestion={
                    "engine": s.engine,
                    "acquisition": s.acquisition,
                    "predicted_mean": s.predicted_mean,
                    "predicted_sd": s.predicted_sd,
                    "predictions": {
                        k: {"mean": m, "sd": sd} for k, (m, sd) in (s.predictions or {}).items()
                    },
                    "feasibility": s.feasibility,
                    "model_version": s.model_version,
                },
                suggested_v=self.clock.now(),
            )
            rows.append(row)
        # with the planner state that suggested them: a resumed planner does not repeat them
        self.store.add_experiments(rows, planner=self._planner_state())
        for s, row in zip(suggestions, rows, strict=True):
            c = Candidate(row.number, dict(s.params), s, row)
            self.candidates.append(c)
            c.task = asyncio.ensure_future(self._run_candidate(c))

    def propose(self, argument: str, who: str, command_id: int = 0) -> str:
        """A candidate proposed from outside the planner (an agent's `propose` command):
        checked against the search space, stored as an experiment awaiting a person's
        approval (whatever the campaign's `approval`), and run once approved. Returns what
        the command's audit says; BadInput says why not."""
        place = f"proposal by {who}"
        try:
            given = json.loads(argument or "{}")
        except ValueError:
            raise BadInput(place, "the parameters are not JSON") from None
        if not isinstance(given, dict) or not isinstance(given.get("params"), dict):
            raise BadInput(place, 'expected {"params": {name: value with its unit}}')
        stored = check_proposal(self.spec.params, given["params"], place)
        if self.abort_requested is not None:
            raise BadInput(place, f"campaign {self.id} is being aborted")
        if self._budget_left() == 0:
            n = self.spec.max_experiments
            raise BadInput(place, f"campaign {self.id} has no budget left ({n} experiments)")
        why = str(given.get("why") or "")[:500]
        row = Experiment(
            campaign_id=self.id,
            number=len(self.candidates) + 1,
            params=stored,
            suggestion={"engine": "agent", "proposed_by": who, "why": why, "command": command_id},
            suggested_v=self.clock.now(),
            status="awaiting_approval",
        )
        self.store.add_experiments([row], planner=self._planner_state())
        c = Candidate(row.number, params_from_json(self.spec, stored), None, row)
        c.proposed_by = who
        self.candidates.append(c)
        c.task = asyncio.ensure_future(self._run_candidate(c))
        self._wake.set()
        return (
            f"experiment {row.number} (id {row.id}) proposed by {who}: waits for a person's "
            f"approval (`ppu approve {row.id}`)"
        )

    def _planner_state(self) -> tuple[int, dict[str, Any], float]:
        return len(self.finished), self.planner.to_state(), self.clock.now()

    async def _run_candidate(
        self, c: Candidate, existing: dict[str, LaunchRow] | None = None
    ) -> None:
        existing = existing or {}
        if c.proposed_by is not None and not existing:
            self.store.update_experiment(c.row, status="awaiting_approval")
            accepted, who = await self._person_approves(c)
            self.store.update_experiment(c.row, status="running")
            if not accepted:
                c.status, c.error = "ABANDONED", f"{c.proposed_by}'s proposal rejected by {who}"
                self._finish(c)
                return
        elif self.spec.approval and not existing:
            self.store.update_experiment(c.row, status="awaiting_approval")
            accepted = await self.rt.operator.approve(
                {
                    "experiment": c.number,
                    "experiment_id": c.row.id,
                    **params_to_json(self.spec, c.params),
                }
            )
            self.store.update_experiment(c.row, status="running")
            if not accepted:
                c.status, c.error = "ABANDONED", "proposal rejected by the operator"
                self._finish(c)
                return
        first = True
        for step in self.spec.workflow:
            inputs: dict[str, Any] = {}
            for iname, v in step.inputs.items():
                if isinstance(v, tuple) and v[0] == "param":
                    inputs[iname] = self._param_value(v[1], c.params[v[1]])
                elif isinstance(v, tuple) and v[0] == "sample":
                    inputs[iname] = c.launches[v[1]].sample(v[2])
                elif isinstance(v, tuple) and v[0] == "output":
                    source = c.launches[v[1]]
                    await asyncio.wait([source.future])
                    if source.state != "done" or v[2] not in source.outputs:
                        break  # a step this one needs did not finish: stop here
                    inputs[iname] = source.outputs[v[2]]
                else:
                    inputs[iname] = v
            else:
                after = [c.launches[a] for a in step.after]
                h = await self._launch_step(c, step, inputs, after, existing.get(step.name))
                c.launches[step.name] = h
                self.store.update_experiment(c.row, launches=[x.id for x in c.launches.values()])
                if first:
                    h.future.add_done_callback(lambda _f: self._wake.set())
                    watcher = asyncio.ensure_future(self._notify_when_running(h))
                    self._watchers.add(watcher)
                    watcher.add_done_callback(self._watchers.discard)
                    first = False
                continue
            break
        await asyncio.wait([h.future for h in c.launches.values()])
        self._close_untaken(c, "the workflow stopped before this step")
        failed = [h for h in c.launches.values() if h.state != "done"]
        for h in failed:
            if not h.future.cancelled():
                h.future.exception()  # looked at: the journal has it
        if failed:
            kinds = {h.failure for h in failed if h.failure}
            chemistry = kinds == {"chemistry"} and not c.settled_by_person
            c.status = "FAILED" if chemistry else "ABANDONED"
            c.error = "; ".join(
                f"{h.kernel.name}: {h.row.error}" for h in failed if h.state == "failed"
            )
        elif len(c.launches) < len(self.spec.workflow):
            c.status, c.error = "ABANDONED", "the workflow stopped before its last step"
        else:
            for o in [*self.spec.objectives, *self.spec.constraints]:
                q = c.launches[o.step].outputs.get(o.output)
                if q is None:  # a launch settled as done by a person: nothing was read
                    c.status = "ABANDONED"
                    c.error = f"{o.name} was never measured (launch {c.launches[o.step].id})"
                    break
                c.objectives[o.name] = float(q.m_as(o.unit))
            else:
                c.status = "COMPLETED"
        self._finish(c)

    async def _launch_step(
        self,
        c: Candidate,
        step: StepSpec,
        inputs: dict[str, Any],
        after: list[LaunchHandle],
        prior: LaunchRow | None,
    ) -> LaunchHandle:
        """Launch a workflow step, or, on resume, take up the launch an earlier controller
        made for it: finished ones as they ended, held ones as a person decides, others
        launched again."""
        note = None
        if prior is not None:
            if prior.state in ("done", "failed", "cancelled"):
                return self.rt.adopt(prior, step.kernel)
            if prior.id in self._decisions:
                outcome, who = await self._await_decision(self._decisions[prior.id])  # type: ignore[index]
                del self._decisions[prior.id]  # type: ignore[arg-type]
                self.rt.settle(prior, step.kernel, outcome, who)
                c.settled_by_person |= outcome == "done"
                if outcome != "rerun":
                    return self.rt.adopt(prior, step.kernel)
                note = f"re-run of launch {prior.id}, approved by {who}"
            else:
                if prior.state != "replaced":
                    self.rt.replace(prior)
                note = f"launched again in place of interrupted launch {prior.id}"
        return self.rt.launch(
            step.kernel, instrument=step.instrument, after=after, note=note, **inputs
        )

    async def _await_decision(self, fut: asyncio.Future[Any]) -> Any:
        """A person answers in wall time. In a dry-run, lab time stands still meanwhile (or
        the simulated lab would run days ahead in the seconds a person takes), and the desk
        is asked every half second of wall time."""
        if not self.clock.virtual or self.desk is None:
            return await fut
        while not fut.done():
            with self.clock.holding():
                await self.clock.loop.run_in_executor(None, time.sleep, 0.5)
            self.desk.poll()
        return fut.result()

    async def _person_approves(self, c: Candidate) -> tuple[bool, str]:
        """A person's approve or reject of an agent's candidate (never the run's own
        operator: a simulated chemist does not stand in for a person here). In an unpaced
        dry-run lab time stands still meanwhile, as for a held launch; a paced or real lab
        goes on with its other work."""
        if self.desk is None:
            raise PlannerFailed(f"experiment {c.number}: no control desk to ask a person")
        fut = self.desk.expect_approval(c.row.id)  # type: ignore[arg-type]
        try:
            if self.clock.virtual and not getattr(self.clock.loop, "pace", None):
                return await self._await_decision(fut)
            return await fut
        finally:
            self.desk.approvals.pop(c.row.id, None)  # type: ignore[arg-type]

    def _close_untaken(self, c: Candidate, why: str) -> None:
        """Launches an earlier controller made for steps this run never reached: closed,
        so nothing stays open (or held) in the journal."""
        from ppu.runtime.holds import IN_FLIGHT

        for row in self._resumed.get(c.number, {}).values():
            if row.state in (*IN_FLIGHT, "held"):
                self._decisions.pop(row.id, None)  # type: ignore[arg-type]
                row.failure = "interrupted"
                self.store.finish(row, "cancelled", self.clock.now(), error=why)

    async def _notify_when_running(self, h: LaunchHandle) -> None:
        # the first step leaving the queue frees a place in the backlog
        await asyncio.wait([h.started, h.future], return_when=asyncio.FIRST_COMPLETED)
        self._wake.set()

    def _finish(self, c: Candidate) -> None:
        from planner import Result

        self.planner.ingest(
            [
                Result(
                    params=c.params,
                    status=c.status,  # type: ignore[arg-type]
                    objectives=dict(c.objectives),
                )
            ]
        )
        if self.screen is not None and c.status != "ABANDONED":
            self._screen_due += self.screen.fidelity.per_measurement
        # saved with the result it ingested: a resumed campaign makes the same next
        # suggestion, and never ingests a result twice
        self.store.update_experiment(
            c.row,
            planner=self._planner_state(),
            status=c.status,
            ended_v=self.clock.now(),
            error=c.error,
            objectives={
                o.name: {"value": c.objectives[o.name], "unit": o.unit}
                for o in [*self.spec.objectives, *self.spec.constraints]
                if o.name in c.objectives
            },
            launches=[h.id for h in c.launches.values()],
        )
        self.store.update_campaign(self.id, virtual_t=self.clock.now(), clock_wall=time.time())
        self._wake.set()
        if self.on_progress:
            self.on_progress(self)

    def _param_value(self, name: str, value: Any) -> Any:
        p = self.spec.params[name]
        if p.categorical:
            return value
        return round(float(value)) if p.integer else Q_(float(value), p.unit)

    # -- outcome ------------------------------------------------------------------------
    def meets_constraints(self, c: Candidate) -> bool:
        return all(
            (k.ge is None or c.objectives[k.name] >= k.ge)
            and (k.le is None or c.objectives[k.name] <= k.le)
            for k in self.spec.constraints
        )

    def best(self) -> Candidate | None:
        done = [c for c in self.candidates if c.status == "COMPLETED" and self.meets_constraints(c)]
        if not done:
            return None
        o = self.spec.objectives[0]
        sign = 1 if o.maximize else -1
        return max(done, key=lambda c: (sign * c.objectives[o.name], -c.number))

    def pareto(self) -> list[Candidate]:
        done = [c for c in self.candidates if c.status == "COMPLETED"]
        objs = self.spec.objectives

        def better_or_equal(a: Candidate, b: Candidate) -> bool:
            return all(
                (a.objectives[o.name] >= b.objectives[o.name])
                if o.maximize
                else (a.objectives[o.name] <= b.objectives[o.name])
                for o in objs
            )

        return [
            c
            for c in done
            if not any(better_or_equal(d, c) and d.objectives != c.objectives for d in done)
        ]


def campaign_id_for(store: Store, spec: CampaignSpec, seed: int) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", spec.name.lower()).strip("-")[:40] or "campaign"
    prefix = f"{slug}-s{seed}"
    n = store.count_campaigns(prefix)
    return f"{prefix}-{n + 1}"


async def run_campaign(
    spec: CampaignSpec,
    rt: Runtime,
    store: Store,
    clock: Clock,
    campaign_id: str,
    *,
    db_label: str,
    dry_run: bool,
    on_progress: Callable[[CampaignRun], None] | None = None,
    resume: bool = False,
    paused: bool = False,
    quarantined: tuple[str, ...] = (),
    lock: CampaignLock | None = None,
) -> dict[str, Any]:
    """Run a campaign to its end; with `resume`, carry on one an earlier controller left.
    The caller holds the campaign's lock (`ppu.runtime.holds.CampaignLock`) before it
    opens the lab; given here, it is watched (a lost server lock holds the lab)."""
    wall0 = time.perf_counter()
    if not resume:
        store.add_campaign(
            Campaign(
                id=campaign_id,
                name=spec.name,
                seed=spec.seed,
                dry_run=dry_run,
                created_wall=time.time(),
                virtual_t=clock.now(),
                clock_wall=time.time(),
                clock_rate=clock.rate,
                config={
                    "campaign": spec.raw,
                    "campaign_path": str(Path(spec.path).resolve()),
                    "lab": str(Path(rt.lab.path).resolve()),
                    "plugins": [p.to_json() for p in rt.lab.registry.plugins],
                    "objectives": [
                        {"name": o.name, "unit": o.unit, "maximize": o.maximize}
                        for o in spec.objectives
                    ],
                    "max_experiments": spec.max_experiments,
                    "max_lab_time_s": spec.max_lab_time_s,
                },
            )
        )
    else:  # as the stopped controller left it: paused stays paused, quarantined stays out
        store.update_campaign(
            campaign_id,
            state="paused" if paused else "running",
            virtual_t=clock.now(),
            clock_wall=time.time(),
            clock_rate=clock.rate,
        )
        if paused:
            rt.pause()
        for name in quarantined:
            if name in rt.instruments:
                rt.quarantine(name, "quarantined before the controller stopped")
    rt.persist_lab(campaign_id)
    run = CampaignRun(
        spec,
        rt,
        store,
        clock,
        campaign_id,
        on_progress=on_progress,
        planner=saved_planner(store, campaign_id, spec) if resume else None,
    )
    watch = LockWatch(lock) if lock is not None else None
    desk = ControlDesk(
        rt,
        store,
        campaign_id=campaign_id,
        poll_s=control_poll_s(clock),
        on_abort=run.request_abort,
        on_command=run.wake,
        lock_watch=watch,
        on_propose=run.propose,
    )
    run.desk = desk
    rt.operator = RecordedOperator(rt.operator, desk, store, clock, campaign_id)
    if resume:
        # the lab as the stopped controller left it: running pumps, heaters at setpoint
        run.safe_states = await rt.make_safe()
        run.restored = run.restore(desk)
        desk.poll()  # resolutions given while the controller was down
    polling = asyncio.ensure_future(desk.run())
    if watch is not None:
        watch.start()
    try:
        await run.run()
    except BaseException as e:
        store.update_campaign(
            campaign_id, state="failed", virtual_t=clock.now(), clock_wall=time.time()
        )
        rt.notify(CampaignEnded(campaign_id=campaign_id, state="failed", summary=describe_error(e)))
        raise
    finally:
        polling.cancel()
        await asyncio.gather(polling, return_exceptions=True)
        if watch is not None:
            watch.stop()
    summary = summarize(run, time.perf_counter() - wall0, db_label)
    if resume:
        summary["resumed"] = {**run.restored, "made_safe": run.safe_states}
    state = "done"
    if run.abort_requested is not None:
        state = "aborted"
        summary["aborted_by"] = run.abort_requested
        summary["safe_states"] = run.safe_states
    store.update_campaign(
        campaign_id, state=state, virtual_t=clock.now(), clock_wall=time.time(), summary=summary
    )
    line = summary_line(summary)
    if state == "aborted":
        line = f"aborted by {run.abort_requested}; {line}"
    rt.notify(CampaignEnded(campaign_id=campaign_id, state=state, summary=line))
    return summary


def control_poll_s(clock: Clock) -> float:
    """How often commands are looked for, in the clock's seconds: half a second of a
    person's time (a paced dry-run turns that into `pace` times more lab time); an
    unpaced dry-run looks every 5 min of lab time, which passes in a blink."""
    if not clock.virtual:
        return 0.5
    pace = getattr(clock.loop, "pace", None)
    return 0.5 * pace if pace else 300.0
