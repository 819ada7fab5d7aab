"""Launching kernels onto instrument lanes: `rt.launch(kernel, **inputs)` returns a future.

Every state change is journaled (committed) before the runtime acts on it:
queued → waiting → running → done | failed | cancelled. A launch whose input sample is
made by another launch waits for it; compute kernels run off the lanes, on a worker
thread that holds the clock, then cost their declared virtual time.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections import Counter, deque
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from bluesky.utils import Msg

from ppu.core.clock import Clock
from ppu.core.errors import (
    BadInput,
    InstrumentUnavailable,
    describe_error,
)
from ppu.core.kernels import Kernel
from ppu.core.units import Quantity, from_json, to_json
from ppu.lab.spec import ComputeSpec, LabSpec
from ppu.runtime.assembly import Instrument, LabAssembly
from ppu.runtime.compute import (
    ComputePool,
    ComputeTask,
    ComputeUnavailable,
    from_plain,
    make_pool,
)
from ppu.runtime.context import KernelContext, LaunchFailed, LaunchHandle, SampleRef, sample_id
from ppu.runtime.lane import Job, Lane
from ppu.runtime.notices import ControllerAlarm, FaultBurst, InstrumentHeld, Notice, Quarantined
from ppu.runtime.notifier import Notifier
from ppu.runtime.roll_call import RollCall
from ppu.runtime.stockroom import Stockroom
from ppu.runtime.watchdog import HOLD as WATCHDOG_HOLD
from ppu.runtime.watchdog import Watchdog
from ppu.store import Store
from ppu.store.models import FaultRecord, Sample
from ppu.store.models import Launch as LaunchRow

log = logging.getLogger("ppu.runtime")


class Runtime(LabAssembly):
    """Kernels launched onto instrument lanes, every state change journaled first; the lab
    it runs on is brought up and closed by `LabAssembly`."""

    def __init__(
        self,
        lab: LabSpec,
        clock: Clock,
        store: Store,
        *,
        dry_run: bool,
        campaign_id: str | None = None,
        trace_dir: Path | None = None,
        operator: Any = None,
        operator_delay_s: float = 60.0,
        quarantine_after: int = 3,
        lab_state: bytes | None = None,
        compute: ComputePool | ComputeSpec | None = None,
    ) -> None:
        self.lab = lab
        self.clock = clock
        self.store = store
        self.dry_run = dry_run
        self.campaign_id = campaign_id
        self.trace_dir = trace_dir
        self.instruments: dict[str, Instrument] = {}
        self.simulators: dict[str, Any] = {}
        self.rigs: dict[str, Any] = {}
        self.drivers: dict[str, Any] = {}
        self.aborted = False
        self.quarantine_after = quarantine_after
        self._failures_in_a_row: dict[str, int] = {}
        self._faults_by_launch: dict[int, int] = {}
        self.faults_seen = 0
        self._unassigned: list[tuple[int, LaunchHandle, str | None, asyncio.Future[Any]]] = []
        self._dispatcher: asyncio.Task[None] | None = None
        self.world: Any = None
        self.simlab: Any = None
        self.operator: Any = operator
        self.operator_delay_s = operator_delay_s
        self._ports: list[Any] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing = False
        #: a resumed dry-run's simulated lab, as the journal last saw it
        self._lab_state = lab_state
        self._restored: dict[str, Any] = {"rigs": {}, "simulators": {}}
        #: where computed kernels run: a given pool, or one made on the first computed
        #: launch from a given `[compute]` (the campaign's) or else the lab's
        given = compute if isinstance(compute, ComputePool) else None
        self._compute: ComputePool | None = given
        self._own_compute = given is None
        self._compute_spec = compute if isinstance(compute, ComputeSpec) else lab.compute
        self._compute_error: str | None = None
        self._compute_lock: asyncio.Lock | None = None
        self.watchdog = Watchdog(
            lab.watchdog,
            clock.loop,
            history=lambda k, i: store.durations(k, i) if store is not None else [],
            alarm=self._stalled,
        )
        self.stockroom = Stockroom(lab.consumables, store, self._stock_scope)
        self.roll_call = RollCall(
            lab.watchdog, clock, self.instruments, self.drivers, alarm=self._silent
        )
        #: what a person is told (the lab file's [notify] URLs and $PPU_NOTIFY)
        self.notifier = Notifier.for_lab(lab.notify)
        #: recent wire faults (lab time, instrument, message), for telling a burst
        self._recent_faults: deque[tuple[float, str, str]] = deque()

    async def open(self) -> None:
        await super().open()
        self.roll_call.start()

    async def close(self) -> None:
        self.watchdog.close()
        await self.roll_call.close()
        await super().close()
        with self.clock.holding():  # notices still on their way go out, in wall time
            await self.clock.loop.run_in_executor(None, self.notifier.close)
        if self._own_compute and self._compute is not None:
            pool, self._compute = self._compute, None
            with self.clock.holding():  # a Dask client says goodbye in wall time
                await self.clock.loop.run_in_executor(None, pool.close)

    async def compute_pool(self) -> ComputePool:
        """The compute pool, made on first use off the loop's thread (connecting to a
        scheduler takes wall time, during which lab time stands still). A pool that cannot
        be made fails every computed launch with the same one-line reason."""
        if self._compute is None:
            if self._compute_lock is None:
                self._compute_lock = asyncio.Lock()
            async with self._compute_lock:  # one connection attempt, however many launches
                await self._make_compute_pool()
            if self._compute is None:
                raise ComputeUnavailable(self._compute_error or "no compute pool")
        return self._compute

    async def _make_compute_pool(self) -> None:
        if self._compute is not None or self._compute_error is not None:
            return
        c = self._compute_spec
        try:
            with self.clock.holding():
                self._compute = await self.clock.loop.run_in_executor(
                    None, make_pool, c.scheduler, c.workers
                )
        except Exception as e:
            where = f"Dask scheduler {c.scheduler}" if c.scheduler else "compute pool"
            self._compute_error = f"cannot reach the {where}: {describe_error(e)}"

    # -- launching ------------------------------------------------------------------
    def pick_instrument(self, kernel: Kernel, name: str | None = None) -> Instrument:
        if name is not None:
            inst = self.instruments.get(name)
            if inst is None:
                raise BadInput(
                    f"launch {kernel.name}: instrument",
                    f"unknown instrument '{name}' (lab has: {', '.join(self.instruments)})",
                )
            if kernel.role not in inst.roles:
                raise BadInput(
                    f"launch {kernel.name}: instrument",
                    f"'{name}' has no role '{kernel.role}' (roles: {', '.join(inst.roles)})",
                )
            return inst
        able = [i for i in self.instruments.values() if kernel.role in i.roles]
        if not able:
            raise BadInput(
                f"kernel {kernel.name}",
                f"needs an instrument with role '{kernel.role}'; the lab has none",
            )
        able = [i for i in able if "quarantine" not in i.lane.holds] or able
        if all("quarantine" in i.lane.holds for i in able):
            raise InstrumentUnavailable(
                f"every instrument with role '{kernel.role}' is quarantined"
            )
        idle = [i for i in able if i.lane.idle and not i.lane.holds]
        return idle[0] if idle else min(able, key=lambda i: (bool(i.lane.holds), i.lane.backlog))

    def launch(
        self,
        kernel: Kernel,
        *,
        instrument: str | None = None,
        after: tuple[LaunchHandle, ...] | list[LaunchHandle] = (),
        note: str | None = None,
        **inputs: Any,
    ) -> LaunchHandle:
        """Validate, journal `queued`, and schedule. Bad input raises BadInput at once."""
        values = kernel.validate(inputs)
        for name in kernel.sample_inputs:
            v = values[name]
            if isinstance(v, str):
                s = self.store.sample(v)
                if s is None:
                    raise BadInput(f"kernel {kernel.name}: {name}", f"unknown sample '{v}'")
                if s.state != "present":
                    raise BadInput(f"kernel {kernel.name}: {name}", f"sample '{v}' is {s.state}")
            elif not isinstance(v, SampleRef):
                raise BadInput(f"kernel {kernel.name}: {name}", f"{v!r} is not a sample")
        if not kernel.is_compute and instrument is not None:
            self.pick_instrument(kernel, instrument)  # check the name now
        elif not kernel.is_compute and not self.lab.with_role(kernel.role or ""):
            raise BadInput(
                f"kernel {kernel.name}",
                f"needs an instrument with role '{kernel.role}'; the lab has none",
            )
        row = LaunchRow(
            campaign_id=self.campaign_id,
            kernel=kernel.name,
            instrument=instrument,
            inputs={k: _jsonable(v) for k, v in values.items()},
            rerun_safe=kernel.rerun_safe,
        )
        self.store.add_launch(row, self.clock.now(), note)
        handle = LaunchHandle(row, kernel, self.clock.loop.create_future())
        task = self.clock.loop.create_task(self._drive(handle, values, instrument, tuple(after)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return handle

    # -- resuming after a crash ------------------------------------------------------
    def adopt(self, row: LaunchRow, kernel: Kernel) -> LaunchHandle:
        """A handle on a launch an earlier controller finished (done, failed, cancelled),
        with the outputs or the failure the journal holds."""
        h = LaunchHandle(row, kernel, self.clock.loop.create_future())
        h.started.set_result(None)
        if row.state == "done":
            made = self.store.samples_made_by(row.id)  # type: ignore[arg-type]
            h.produced = {smp.id.split("-", 1)[1]: smp.id for smp in made}
            h.future.set_result({k: from_json(v) for k, v in (row.outputs or {}).items()})
        else:
            h.failure = row.failure
            h.future.set_exception(
                LaunchFailed(f"launch {row.id} ({row.kernel}) {row.state}: {row.error}")
            )
            h.future.exception()  # the journal has it; nothing is left unread
        return h

    def hold_launch(self, row: LaunchRow, reason: str) -> None:
        """A launch that was running when the controller stopped and is not safe to repeat
        waits for a person: `ppu holds resolve`."""
        self.store.journal(row, "held", self.clock.now(), reason)

    def settle(self, row: LaunchRow, kernel: Kernel, outcome: str, who: str) -> None:
        """A person's word on an interrupted launch: it did finish (`done`: its products
        exist, their outputs were never read), it `failed`, or it may run again (`rerun`)."""
        now = self.clock.now()
        if outcome == "done":
            made = [
                Sample(
                    id=sample_id(row.id, name),  # type: ignore[arg-type]
                    campaign_id=row.campaign_id,
                    kind=kind,
                    made_by=row.id,
                    created_v=now,
                    properties={"recorded_by": who, "note": "made while the controller was down"},
                )
                for name, kind in kernel.produces.items()
            ]
            consumed = [
                _sample_id(row.inputs.get(k))
                for k, si in kernel.sample_inputs.items()
                if si.consumes
            ]
            self.store.finish(
                row,
                "done",
                now,
                outputs={},
                samples=made,
                consumed=[c for c in consumed if c],
                detail=f"resolved as done by {who}; outputs not read",
            )
            return
        row.failure = "interrupted"
        if outcome == "failed":
            why = f"the controller stopped while it ran; {who} resolved it as failed"
            self.store.finish(row, "failed", now, error=why)
        else:
            why = f"the controller stopped while it ran; {who} approved a re-run"
            self.store.finish(row, "replaced", now, error=why)

    def replace(self, row: LaunchRow) -> None:
        """An interrupted launch that is safe to repeat (or never started): closed in the
        journal, to be launched again."""
        started = row.started_v is not None
        row.failure = "interrupted"
        why = "interrupted; " + (
            "safe to repeat: re-run" if started else "never started: launched again"
        )
        self.store.finish(row, "replaced", self.clock.now(), error=why)

    async def _drive(
        self,
        h: LaunchHandle,
        values: dict[str, Any],
        instrument: str | None,
        after: tuple[LaunchHandle, ...],
    ):
        kernel = h.kernel
        try:
            refs = {k: v for k, v in values.items() if isinstance(v, SampleRef)}
            if refs or after:
                self.store.journal(
                    h.row,
                    "waiting",
                    self.clock.now(),
                    "waiting for input samples or earlier launches",
                )
                for k, ref in refs.items():
                    values[k] = await ref.resolve()
                for before in after:
                    await asyncio.wait([before.future])
                    if before.state != "done":
                        raise LaunchFailed(
                            f"launch {before.id}, which this one follows, is {before.state}"
                        )
            samples_in = {k: self.store.sample(values[k]) for k in kernel.sample_inputs}
            if kernel.is_compute:
                outputs, ctx = await self._run_compute(h, values, samples_in)
            else:
                # a launch that would run a stock dry waits for its refill before it starts
                await self.stockroom.take(h, values, self.operator, self.clock.now)
                outputs, ctx = await self._run_on_lane(h, values, samples_in, instrument)
            checked = kernel.check_outputs(outputs or {})
        except asyncio.CancelledError:
            if self._closing:  # the controller stopped: `ppu resume` carries on from here
                h.row.failure = "interrupted"
                self.store.finish(
                    h.row,
                    "interrupted",
                    self.clock.now(),
                    error=f"the controller stopped while it was {h.row.state}",
                )
            else:
                self.store.finish(h.row, "cancelled", self.clock.now(), error="cancelled")
            if not h.future.done():
                h.future.cancel()
            raise
        except LaunchFailed as e:
            self.store.finish(h.row, "cancelled", self.clock.now(), error=str(e))
            h.future.set_exception(e)
            return
        except Exception as e:
            h.failure = h.row.failure = _failure_kind(e)
            self.store.finish(h.row, "failed", self.clock.now(), error=describe_error(e))
            self._count_outcome(h)
            h.future.set_exception(
                LaunchFailed(f"launch {h.id} ({kernel.name}) failed: {describe_error(e)}")
            )
            return
        h.produced = {s.id.split("-", 1)[1]: s.id for s in ctx.made}
        single = next(iter(samples_in.values())).id if len(samples_in) == 1 else None  # type: ignore[union-attr]
        for name, q in checked.items():
            if not any(m.name == name for m in ctx.measured):
                ctx.measure(name, q, sample=single)
        faults = self._faults_by_launch.pop(h.id, 0)
        for m in ctx.measured:
            # a value read on a line that faulted may be a corrupted one that still parsed
            m.provenance = {
                **(m.provenance or {}),
                "quality": "suspect" if faults else "good",
                "faults_during_launch": faults,
            }
        consumed = [values[k] for k, s in kernel.sample_inputs.items() if s.consumes]
        self.store.finish(
            h.row,
            "done",
            self.clock.now(),
            outputs={k: to_json(q) for k, q in checked.items()},
            samples=ctx.made,
            consumed=consumed,
            measurements=ctx.measured,
            sample_updates=ctx.updates,
        )
        self._count_outcome(h)
        h.future.set_result(checked)

    def _context(self, h: LaunchHandle, inst: str | None, samples_in: dict[str, Any]):
        return KernelContext(
            launch_id=h.id,
            kernel=h.kernel,
            instrument=inst,
            clock=self.clock,
            campaign_id=self.campaign_id,
            samples_in=samples_in,
            operator=self.operator,
            store_engine=self.store.engine if self.store is not None else None,
        )

    async def _run_compute(self, h: LaunchHandle, values: dict[str, Any], samples_in: dict):
        ctx = self._context(h, None, samples_in)
        self.store.journal(h.row, "running", self.clock.now(), started_v=self.clock.now())
        if not h.started.done():
            h.started.set_result(None)
        if h.kernel.is_computed:
            outputs = await self._run_computed(h, ctx, values)
        else:
            with self.clock.holding():
                outputs = await self.clock.loop.run_in_executor(
                    None, lambda: h.kernel.body(ctx, **values)
                )
        if h.kernel.cost_s:
            await asyncio.sleep(h.kernel.cost_s)
        return outputs, ctx

    async def _run_computed(self, h: LaunchHandle, ctx: Any, values: dict[str, Any]) -> dict:
        """A computed kernel on the compute pool; what it measured is stored as this
        launch's measurements, and a re-run after a lost worker is journaled."""
        task = ComputeTask.of(h.id, h.kernel, values)
        with self.clock.holding():
            pool = await self.compute_pool()
            outcome = await asyncio.wrap_future(pool.submit(task), loop=self.clock.loop)
        for lost in outcome.lost_on:
            self.store.journal(
                h.row,
                "running",
                self.clock.now(),
                f"re-run on {outcome.worker}: worker {lost} was lost",
            )
        for name, value, sample, extra in outcome.measured:
            ctx.measure(name, from_plain(value), sample=sample, worker=outcome.worker, **extra)
        return {k: from_plain(v) for k, v in outcome.outputs.items()}

    async def _run_on_lane(
        self, h: LaunchHandle, values: dict[str, Any], samples_in: dict, instrument: str | None
    ):
        inst = await self._assign(h, instrument)
        h.row.instrument = inst.name
        ctx = self._context(h, inst.name, samples_in)
        if inst.lane.current is not None or inst.lane.queue:
            self.store.journal(
                h.row, "waiting", self.clock.now(), f"{inst.name} is busy", instrument=inst.name
            )
        md = {
            "launch_id": h.id,
            "kernel": h.kernel.name,
            "instrument": inst.name,
            "campaign_id": self.campaign_id,
            "inputs": h.row.inputs,
        }

        def on_start() -> None:
            now = self.clock.now()
            md["virtual_t_start"] = now
            expected = self.watchdog.expected_s(h.kernel, inst.name, values)
            self.store.journal(
                h.row, "running", now, instrument=inst.name, started_v=now, expected_s=expected
            )
            self.watchdog.watch(
                h.id, h.kernel, inst.name, expected, running=lambda: h.row.state == "running"
            )
            if not h.started.done():
                h.started.set_result(None)

        def plan():
            # One bluesky run per launch, opened with bare Msgs (bluesky's plan-stub
            # wrappers capture a stack trace each, a third of the dispatch time).
            yield Msg("open_run", **md)
            try:
                outputs = yield from h.kernel.body(inst, ctx, **values)
            except BaseException as e:
                yield Msg("close_run", exit_status="fail", reason=describe_error(e))
                raise
            yield Msg("close_run", exit_status="success", reason="")
            return outputs

        fut: asyncio.Future[Any] = self.clock.loop.create_future()
        inst.lane.submit(Job(make_plan=plan, future=fut, on_start=on_start, tag=h))
        try:
            return await fut, ctx
        finally:
            self.watchdog.finished(h.id)

    async def _assign(self, h: LaunchHandle, instrument: str | None) -> Instrument:
        """Pick the instrument at a quiescent instant, in launch order: work finishing at
        the same virtual instant on several ports completes in real-time order, and the
        choice must not depend on that."""
        fut: asyncio.Future[Instrument] = self.clock.loop.create_future()
        self._unassigned.append((h.id, h, instrument, fut))
        if self._dispatcher is None or self._dispatcher.done():
            self._dispatcher = self.clock.loop.create_task(self._dispatch())
        return await fut

    async def _dispatch(self) -> None:
        await self.clock.idle()
        ready, self._unassigned = sorted(self._unassigned, key=lambda r: r[0]), []
        for _, h, instrument, fut in ready:
            if fut.done():
                continue
            try:
                inst = self.pick_instrument(h.kernel, instrument)
            except (BadInput, InstrumentUnavailable) as e:
                fut.set_exception(e)
                continue
            inst.lane.reserved += 1  # counts as queued until the job is submitted
            fut.set_result(inst)

    # -- control --------------------------------------------------------------------------
    def hold(self, instrument: str, reason: str = "operator") -> None:
        """No new kernel starts on `instrument` (a running one finishes)."""
        self.instruments[instrument].lane.hold(reason)

    def release(self, instrument: str, reason: str = "operator") -> None:
        self.instruments[instrument].lane.release(reason)

    @property
    def paused(self) -> bool:
        return any("pause" in i.lane.holds for i in self.instruments.values())

    def pause(self) -> None:
        """Running kernels finish; nothing new starts anywhere until resumed."""
        self.hold_everything("pause")

    def resume(self) -> None:
        self.release_everything("pause")

    def hold_everything(self, reason: str) -> None:
        for inst in self.instruments.values():
            inst.lane.hold(reason)

    def release_everything(self, reason: str) -> None:
        for inst in self.instruments.values():
            inst.lane.release(reason)

    async def abort(self, reason: str) -> dict[str, str]:
        """Stop every running kernel, cancel what waits, and drive every instrument to its
        safe state (heaters off, valves closed, pumps stopped). Returns what each said."""
        self.aborted = True
        for inst in self.instruments.values():
            inst.lane.hold("abort")
        running = [i for i in self.instruments.values() if i.lane.current is not None]
        with self.clock.holding():
            for inst in running:
                # RE.abort waits for the loop to run it: call it from a worker thread
                await self.clock.loop.run_in_executor(None, inst.lane.RE.abort, reason)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        return await self.make_safe()

    async def make_safe(self) -> dict[str, str]:
        """Every instrument to its safe state (heaters off, valves closed, pumps stopped):
        after an abort, and before a resumed campaign starts anything (a pump may still be
        running the command the stopped controller gave it). Returns what each said."""
        states: dict[str, str] = {}
        for inst in self.instruments.values():
            try:
                await inst.safe_state()
                states[inst.name] = "safe"
            except Exception as e:  # one instrument's failure must not leave others unsafe
                states[inst.name] = f"NOT SAFE: {describe_error(e)}"
        return states

    def _fault(self, instrument: str, device: str, e: Exception, kind: str | None = None) -> None:
        """Every fault on the wire is recorded, whether a retry then succeeds or not."""
        self.faults_seen += 1
        lane = self.instruments[instrument].lane if instrument in self.instruments else None
        job = lane.current if lane is not None else None
        if job is not None and job.tag is not None:
            self._faults_by_launch[job.tag.id] = self._faults_by_launch.get(job.tag.id, 0) + 1
        if kind is None:  # a fault on the wire (alarms and quarantines are told themselves)
            self._count_burst(f"{instrument}.{device}" if device else instrument, str(e)[:200])
        if self.store is None:
            return
        self.store.add_fault(
            FaultRecord(
                campaign_id=self.campaign_id,
                instrument=instrument,
                device=device,
                launch_id=job.tag.id if job is not None and job.tag is not None else None,
                kind=kind or type(e).__name__,
                message=str(e)[:500],
                virtual_t=self.clock.now(),
                wall_t=time.time(),
            )
        )

    def notify(self, notice: Notice) -> None:
        """Tell a person (queued; sent from the notifier's thread), with where and when."""
        self.notifier.send(
            dataclasses.replace(
                notice,
                lab=notice.lab or self.lab.name,
                campaign_id=notice.campaign_id or self.campaign_id,
                lab_time_s=notice.lab_time_s or self.clock.now(),
                wall=notice.wall or time.time(),
            )
        )

    def _count_burst(self, instrument: str, message: str) -> None:
        """Wire faults within the lab file's window: `burst` of them are told once, and
        counting starts afresh."""
        spec = self.lab.notify
        now = self.clock.now()
        recent = self._recent_faults
        recent.append((now, instrument, message))
        while recent and recent[0][0] < now - spec.window_s:
            recent.popleft()
        if len(recent) < spec.burst:
            return
        by = Counter(name for _, name, _ in recent)
        self.notify(
            FaultBurst(
                count=len(recent),
                window_s=spec.window_s,
                instruments=tuple(by.most_common()),
                last=f"{instrument}: {message}",
            )
        )
        recent.clear()

    def _count_outcome(self, h: LaunchHandle) -> None:
        """Instrument failures in a row quarantine the instrument; a success clears them."""
        name = h.row.instrument
        if name is None or name not in self.instruments:
            return
        if h.state == "done":
            self._failures_in_a_row[name] = 0
            return
        if h.failure != "instrument":
            return
        n = self._failures_in_a_row.get(name, 0) + 1
        self._failures_in_a_row[name] = n
        if n >= self.quarantine_after and not self.aborted:
            self.quarantine(name, f"{n} launches in a row failed on instrument faults")

    def _stock_scope(self) -> str | None:
        """Whose stocks: a real lab's outlive campaigns; a simulated lab's are its campaign's
        (a dry-run outside a campaign starts from the lab file each time)."""
        if not self.dry_run:
            return f"lab {self.lab.name}"
        return f"dry-run {self.campaign_id}" if self.campaign_id else None

    def _stalled(self, instrument: str, launch_id: int, message: str) -> None:
        """The watchdog's alarm: recorded with the launch, the instrument held."""
        self._fault(instrument, "", RuntimeError(message), kind="stalled")
        if instrument in self.instruments:
            self.hold(instrument, WATCHDOG_HOLD)
        self.notify(InstrumentHeld(instrument=instrument, by="stall watchdog", reason=message))

    def _silent(self, instrument: str, device: str, message: str) -> None:
        """The roll call's alarm: an idle instrument stopped answering; held like a stall."""
        self._fault(instrument, device, RuntimeError(message), kind="silent")
        if instrument in self.instruments:
            self.hold(instrument, WATCHDOG_HOLD)
        self.notify(InstrumentHeld(instrument=instrument, by="roll call", reason=message))

    def alarm(self, where: str, message: str, kind: str) -> None:
        """An alarm for a person that no instrument's fault carries (the controller's own):
        recorded as a fault of `kind` and logged."""
        log.warning(message)
        self._fault(where, "", RuntimeError(message), kind=kind)
        self.notify(ControllerAlarm(message=message))

    def quarantine(self, name: str, reason: str) -> None:
        """Take an instrument out of service: nothing more starts on it, and what waits for
        it is abandoned (an instrument's fault, not the chemistry's)."""
        lane = self.instruments[name].lane
        lane.hold("quarantine")
        self._fault(name, "", RuntimeError(reason), kind="quarantine")
        self.notify(Quarantined(instrument=name, reason=reason))
        while lane.queue:
            job = lane.queue.popleft()
            if hasattr(job, "future") and not job.future.done():
                job.future.set_exception(InstrumentUnavailable(f"{name} is quarantined: {reason}"))

    def _lane_changed(self, lane: Lane) -> None:
        if self.store is None:
            return
        job = lane.current
        h = job.tag if job is not None else None
        self.store.note_instrument(
            lane.name,
            state=lane.state,
            holds=sorted(lane.holds),
            campaign_id=self.campaign_id,
            launch_id=h.id if h is not None else None,
            kernel=h.kernel.name if h is not None else None,
            busy_s=lane.busy_time(),
            updated_v=self.clock.now(),
        )

    def _on_document(self, lane: Lane, name: str, doc: dict) -> None:
        job = lane.current
        launch_id = job.tag.id if job is not None and job.tag is not None else None
        self.store.add_document(launch_id, name, doc, self.clock.now())


def _failure_kind(e: BaseException) -> str:
    from devices.errors import LimitError
    from ppu.core.errors import InstrumentError, InstrumentUnavailable, SampleFailed, StepNotDone

    seen: BaseException | None = e
    while seen is not None:
        if isinstance(seen, SampleFailed):
            return "chemistry"
        if isinstance(seen, StepNotDone):
            return "operator"
        # every driver's error, and a kernel's own finding about its instrument (a leak)
        if isinstance(seen, InstrumentError | LimitError | TimeoutError | InstrumentUnavailable):
            return "instrument"
        seen = seen.__cause__ or seen.__context__
    return "software"


def _sample_id(v: Any) -> str | None:
    """A sample input as the journal stored it: an id, or another launch's product."""
    if isinstance(v, str):
        return v
    if isinstance(v, dict) and "sample_of_launch" in v:
        return sample_id(v["sample_of_launch"], v["name"])
    return None


def _jsonable(v: Any) -> Any:
    if isinstance(v, Quantity):
        return to_json(v)
    if isinstance(v, SampleRef):
        return {"sample_of_launch": v.launch.id, "name": v.name}
    return v


@contextlib.asynccontextmanager
async def running(lab: LabSpec, clock: Clock, store: Store, **kw: Any) -> AsyncIterator[Runtime]:
    rt = Runtime(lab, clock, store, **kw)
    await rt.open()
    try:
        yield rt
    finally:
        await rt.close()
