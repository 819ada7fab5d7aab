"""Steering a running campaign: control commands from the store, and recorded operator steps.

The dashboard, `ppu serve` in another process, or the CLI write `Command` rows; the
runtime polls them (on the lab clock: every `poll_s`), carries each out and marks it done
or refused with a reason. The rows are the audit trail: who, when, what, and what happened.

Manual steps and approvals are recorded in the store too, and complete by whichever comes
first: a person's `confirm` / `approve` command, or the operator the run already has (the
simulated chemist of a dry-run after its delay, or a person at the console). A person may
also answer a step `could_not`: the kernel waiting on it then fails, naming who and why.
A step starting to wait, and a person's hold, are told (`ppu.runtime.notices`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from sqlmodel import Session

from ppu.core.errors import BadInput, StepNotDone
from ppu.runtime.holds import controller_alive
from ppu.runtime.lock_watch import LockWatch
from ppu.runtime.notices import InstrumentHeld, StepWaiting
from ppu.runtime.watchdog import HOLD as WATCHDOG_HOLD
from ppu.store import Store
from ppu.store.models import Command, OperatorStepRecord

#: how often a running controller says it is alive (wall seconds)
HEARTBEAT_S = 2.0
#: the instruments' hold while the controller does not have its campaign's lock
LOCK_HOLD = "lock"
#: the step state a person's "could not do it" leaves
COULD_NOT = "could_not"


#: a person's answer to a manual step: (done, who, why not)
StepAnswer = tuple[bool, str, str]


class ControlDesk:
    def __init__(
        self,
        rt: Any,
        store: Store,
        *,
        campaign_id: str | None,
        poll_s: float,
        on_abort: Callable[[str], None] | None = None,
        on_command: Callable[[], None] | None = None,
        lock_watch: LockWatch | None = None,
        on_propose: Callable[[str, str, int], str] | None = None,
    ) -> None:
        self.rt = rt
        self.store = store
        self.campaign_id = campaign_id
        self.poll_s = poll_s
        self.on_abort = on_abort
        self.on_command = on_command  # e.g. wake the campaign loop after a resume
        #: a candidate from outside the planner: (parameters JSON, who, command id) → result
        self.on_propose = on_propose
        self.approvals: dict[int, asyncio.Future[tuple[bool, str]]] = {}
        self.steps: dict[int, asyncio.Future[StepAnswer]] = {}
        self.resolutions: dict[int, asyncio.Future[tuple[str, str]]] = {}
        self.carried_out: list[Command] = []
        self._alive_asked: dict[str, tuple[float, bool]] = {}
        self._last_beat = 0.0
        self._beat_at: tuple[float, float] | None = None  # (lab, wall) of the last beat
        #: the campaign's lock on a server, watched: lost, nothing new starts
        self.lock_watch = lock_watch
        self._lock_lost_since: float | None = None
        self._superseded = False
        self._beat()  # at once: a resumed campaign shows no stale word from its last run

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.poll_s)
            self.poll()

    def poll(self) -> None:
        self._beat()
        self._mind_the_lock()
        for cmd in self.store.pending_commands():
            if not self._is_mine(cmd):
                continue  # another controller's, on this store
            state, result = self.carry_out(cmd)
            self.store.finish_command(cmd.id, state, result)  # type: ignore[arg-type]
            self.carried_out.append(cmd)
            if self.on_command is not None:
                self.on_command()

    def _beat(self) -> None:
        """The controller's heartbeat, at most every `HEARTBEAT_S` of wall time: written from
        the loop that carries out commands, so a hung loop falls silent."""
        now = time.time()
        if self.campaign_id is not None and now - self._last_beat >= HEARTBEAT_S:
            self._last_beat = now
            clock = self.rt.clock
            lab = clock.now()
            # where the lab clock stands and how fast it has really moved since the last
            # beat (a paced dry-run falls behind its pace while it computes), so a page moves
            # "now" on between beats without running ahead of the lab
            rate = clock.rate
            if rate is not None and clock.virtual and self._beat_at is not None:
                lab0, wall0 = self._beat_at
                if now - wall0 > 0.5:
                    rate = min(rate, max(0.0, (lab - lab0) / (now - wall0)))
            self._beat_at = (lab, now)
            self.store.update_campaign(
                self.campaign_id,
                heartbeat_wall=now,
                virtual_t=lab,
                clock_wall=now,
                clock_rate=rate,
            )

    def _mind_the_lock(self) -> None:
        """Lost: hold every instrument (running kernels finish) and raise the alarm; taken
        again: go on. Another controller that took the campaign meanwhile keeps it."""
        w = self.lock_watch
        if w is None:
            return
        lost, rt = w.lost, self.rt
        if self._superseded:
            return
        if lost is not None and self._lock_lost_since is None:
            self._lock_lost_since = time.time()
            rt.hold_everything(LOCK_HOLD)
            rt.alarm(
                "controller",
                f"campaign {self.campaign_id}: this controller lost its lock on the store "
                f"({lost}); nothing new starts until it has the lock again, or stop it and "
                "let the one that has it carry on",
                kind="lock",
            )
        elif lost is None and self._lock_lost_since is not None:
            away = time.time() - self._lock_lost_since
            self._lock_lost_since = None
            other = self._other_beat()
            if other is not None:
                # another controller ran the campaign meanwhile: what this one knows is out
                # of date, so it starts nothing more and lets go of the lock for a resume
                self._superseded = True
                w.stop_watching()
                said = time.strftime("%H:%M:%S", time.localtime(other))
                rt.alarm(
                    "controller",
                    f"campaign {self.campaign_id}: another controller ran it while this one "
                    f"had lost its lock (its word at {said}); this one starts nothing more: "
                    "stop it, then `ppu resume` the campaign",
                    kind="lock",
                )
                return
            rt.release_everything(LOCK_HOLD)
            rt.alarm(
                "controller",
                f"campaign {self.campaign_id}: the lock is this controller's again after "
                f"{away:.0f} s; the campaign goes on",
                kind="lock",
            )

    def _other_beat(self) -> float | None:
        """The heartbeat another controller wrote since this one's last, if any."""
        if self.campaign_id is None or self._beat_at is None:
            return None
        from ppu.store.models import Campaign

        with Session(self.store.engine) as s:
            row = s.get(Campaign, self.campaign_id)
            beat = row.heartbeat_wall if row is not None else None
        return beat if beat is not None and beat > self._beat_at[1] + 0.5 else None

    def _is_mine(self, cmd: Command) -> bool:
        """Several controllers may poll one store: each takes its own campaign's commands;
        of another campaign's only a step waiting here, or a hold of an instrument here when
        the campaign named (the one that last used the instrument) has stopped."""
        if cmd.campaign_id == self.campaign_id:
            return True
        about_this_lab = self._about_this_lab(cmd)
        if cmd.campaign_id is None or cmd.kind in ("confirm", COULD_NOT):
            return about_this_lab
        if cmd.kind in ("hold", "release"):
            return about_this_lab and not self._controller_alive(cmd.campaign_id)
        return False

    def _about_this_lab(self, cmd: Command) -> bool:
        kind, target = cmd.kind, cmd.target
        if kind in ("pause", "resume", "abort", "propose"):
            return target == self.campaign_id
        if kind in ("hold", "release"):
            return target in self.rt.instruments
        waiting = {
            "approve": self.approvals,
            "reject": self.approvals,
            "confirm": self.steps,
            COULD_NOT: self.steps,
            "resolve": self.resolutions,
        }.get(kind)
        if waiting is None:
            return True  # an unknown kind: whoever sees it refuses it
        return target.isdigit() and int(target) in waiting

    def _controller_alive(self, campaign_id: str) -> bool:
        """Whether another campaign has its controller, asked at most every few seconds."""
        asked = self._alive_asked.get(campaign_id)
        if asked is None or time.monotonic() - asked[0] > 5.0:
            asked = (time.monotonic(), controller_alive(self.store.url, campaign_id))
            self._alive_asked[campaign_id] = asked
        return asked[1]

    def carry_out(self, cmd: Command) -> tuple[str, str]:
        kind, target = cmd.kind, cmd.target
        rt = self.rt
        if kind in ("pause", "resume", "abort"):
            if target != self.campaign_id:
                return "refused", f"campaign {target} is not the one running ({self.campaign_id})"
            if kind == "pause":
                rt.pause()
                self.store.update_campaign(target, state="paused")
                return "done", "paused: running kernels finish, nothing new starts"
            if kind == "resume":
                rt.resume()
                self.store.update_campaign(target, state="running")
                return "done", "resumed"
            if self.on_abort is not None:
                self.on_abort(cmd.who)
            return "done", "aborting: instruments to their safe state"
        if kind == "propose":
            if target != self.campaign_id or self.on_propose is None:
                return "refused", f"campaign {target} is not the one running ({self.campaign_id})"
            try:
                return "done", self.on_propose(cmd.argument or "", cmd.who, cmd.id or 0)
            except BadInput as e:
                return "refused", str(e)
        if kind in ("hold", "release"):
            if target not in rt.instruments:
                return "refused", f"no instrument '{target}'"
            if kind == "hold":
                rt.hold(target)
                rt.notify(InstrumentHeld(instrument=target, by=cmd.who, reason=""))
            else:  # a person's word also lifts the stall watchdog's hold (checked it)
                rt.release(target)
                rt.release(target, WATCHDOG_HOLD)
            return "done", f"{target} {'held' if kind == 'hold' else 'released'}"
        if kind in ("approve", "reject"):
            fut = self.approvals.get(int(target)) if target.isdigit() else None
            if fut is None or fut.done():
                return "refused", f"experiment {target} is not awaiting approval"
            fut.set_result((kind == "approve", cmd.who))
            done = "approved" if kind == "approve" else "rejected"
            return "done", f"experiment {target} {done} by {cmd.who}"
        if kind == "confirm":
            fut = self.steps.get(int(target)) if target.isdigit() else None
            if fut is None or fut.done():
                return "refused", f"step {target} is not waiting"
            fut.set_result((True, cmd.who, ""))
            return "done", f"step {target} confirmed by {cmd.who}"
        if kind == COULD_NOT:
            fut = self.steps.get(int(target)) if target.isdigit() else None
            if fut is None or fut.done():
                return "refused", f"step {target} is not waiting"
            why = (cmd.argument or "").strip()
            fut.set_result((False, cmd.who, why))
            return "done", f"step {target}: {cmd.who} could not do it" + (
                f" ({why})" if why else ""
            )
        if kind == "resolve":
            fut = self.resolutions.get(int(target)) if target.isdigit() else None
            if fut is None or fut.done():
                return "refused", f"launch {target} is not held"
            if cmd.argument not in ("done", "failed", "rerun"):
                return "refused", f"'{cmd.argument}' is not done, failed or rerun"
            fut.set_result((cmd.argument, cmd.who))
            return "done", f"launch {target} resolved as {cmd.argument} by {cmd.who}"
        return "refused", f"unknown command '{kind}'"

    def expect_resolution(self, launch_id: int) -> asyncio.Future[tuple[str, str]]:
        fut = self.rt.clock.loop.create_future()
        self.resolutions[launch_id] = fut
        return fut

    def expect_approval(self, experiment_id: int) -> asyncio.Future[tuple[bool, str]]:
        fut = self.rt.clock.loop.create_future()
        self.approvals[experiment_id] = fut
        return fut

    def expect_step(self, step_id: int) -> asyncio.Future[StepAnswer]:
        fut = self.rt.clock.loop.create_future()
        self.steps[step_id] = fut
        return fut


class RecordedOperator:
    """Wraps the run's operator: every manual step and approval is in the store, and a
    person's command through the desk can complete it first."""

    def __init__(
        self, inner: Any, desk: ControlDesk, store: Store, clock: Any, campaign_id: str | None
    ) -> None:
        self.inner = inner
        self.desk = desk
        self.store = store
        self.clock = clock
        self.campaign_id = campaign_id

    @property
    def actions(self) -> dict[str, Any]:
        return self.inner.actions

    async def perform(self, step: Any) -> None:
        record = OperatorStepRecord(
            campaign_id=self.campaign_id,
            launch_id=step.launch_id,
            instrument=step.instrument,
            text=step.text,
            created_v=self.clock.now(),
            created_wall=time.time(),
        )
        step_id = self.store.add_step(record)
        person = self.desk.expect_step(step_id)
        self.desk.rt.notify(
            StepWaiting(
                step_id=step_id,
                text=step.text,
                instrument=step.instrument,
                launch_id=step.launch_id,
                campaign_id=self.campaign_id,
            )
        )
        machine = asyncio.ensure_future(self.inner.perform(step))
        try:
            await asyncio.wait([person, machine], return_when=asyncio.FIRST_COMPLETED)
            if person.done():
                machine.cancel()
                await asyncio.gather(machine, return_exceptions=True)
                done, who, why = person.result()
                if not done:
                    self.store.confirm_step(step_id, who, state=COULD_NOT)
                    raise StepNotDone(
                        f"step {step_id} ({step.text}): {who} could not do it"
                        + (f": {why}" if why else "")
                    )
                if hasattr(self.inner, "perform_now"):
                    await self.inner.perform_now(step)  # the physical move still happens
            else:
                machine.result()
                who = getattr(self.inner, "name", "operator")
        finally:
            self.desk.steps.pop(step_id, None)
        self.store.confirm_step(step_id, who)

    async def approve(self, proposal: dict[str, Any]) -> bool:
        experiment_id = int(proposal["experiment_id"])
        person = self.desk.expect_approval(experiment_id)
        machine = asyncio.ensure_future(self.inner.approve(proposal))
        try:
            await asyncio.wait([person, machine], return_when=asyncio.FIRST_COMPLETED)
            if person.done():
                machine.cancel()
                await asyncio.gather(machine, return_exceptions=True)
                return person.result()[0]
            return bool(machine.result())
        finally:
            self.desk.approvals.pop(experiment_id, None)
