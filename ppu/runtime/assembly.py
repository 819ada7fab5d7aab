"""Bringing a lab up and down: in a dry-run the simulated world, its rigs and each device's
simulator behind a `sim://` port; then every port, driver and ophyd-async device, one lane
per instrument; on close, the lanes stopped, ports and simulators closed, instruments offline.

A part of `Runtime` (which it is mixed into): it reads the lab spec, clock, store and the
dry-run flag the runtime holds, and fills `instruments`, `simulators`, `rigs`, `drivers`."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from ppu.core.catalog import load
from ppu.core.clock import Clock
from ppu.core.errors import (
    BadInput,
    DeviceUnavailable,
    PpuError,
    describe_error,
)
from ppu.lab.spec import DeviceSpec, InstrumentSpec, LabSpec
from ppu.runtime.lane import Lane
from ppu.store import Store


class Instrument:
    """A named group of devices with one lane. Devices are attributes: `instrument.pump`."""

    def __init__(self, name: str, roles: tuple[str, ...], devices: dict[str, Any], lane: Lane):
        self.name = name
        self.roles = roles
        self.devices = devices
        self.lane = lane
        for dname, dev in devices.items():
            setattr(self, dname, dev)

    async def safe_state(self) -> None:
        for dev in self.devices.values():
            if hasattr(dev, "safe_state"):
                await dev.safe_state()


class LabAssembly:
    """The bring-up half of `Runtime`; these are set by `Runtime.__init__`."""

    lab: LabSpec
    clock: Clock
    store: Store
    dry_run: bool
    trace_dir: Path | None
    instruments: dict[str, Instrument]
    simulators: dict[str, Any]
    rigs: dict[str, Any]
    drivers: dict[str, Any]

    async def open(self) -> None:
        """Start simulators (dry-run), open every port, connect devices, start the lanes."""
        self.prepare()
        try:
            for ispec in self.lab.instruments.values():
                rig = self._build_rig(ispec) if self.dry_run and ispec.rig else None
                devices = {}
                for dspec in ispec.devices.values():
                    devices[dspec.name] = await self.bring_up(ispec, dspec, rig)
                lane = Lane(ispec.name, self.clock, on_document=self._on_document)
                lane.on_change = self._lane_changed
                await lane.start()
                self._lane_changed(lane)  # every instrument has a row from the start
                self.instruments[ispec.name] = Instrument(ispec.name, ispec.roles, devices, lane)
        except BaseException:
            await self.close()
            raise

    def prepare(self) -> None:
        """The simulated world and operator of a dry-run, or the console operator."""
        if self.dry_run:
            from ppu.lab.simlab import SimulatedLabThread
            from simulators.operator import SimulatedOperator
            from simulators.world import World

            self.simlab = SimulatedLabThread(self.clock)
            if self._lab_state is not None:
                from ppu.lab.simlab import restore_lab

                try:
                    self._restored = restore_lab(self._lab_state, self.clock)
                except Exception as e:  # saved by another version of the simulators
                    raise BadInput(
                        "simulated lab",
                        f"the saved one cannot be restored ({type(e).__name__}: {e})",
                    ) from None
                self.world = self._restored["world"]
            else:
                self.world = World()
            if self.operator is None:
                self.operator = SimulatedOperator(
                    self.world, delay_s=self.operator_delay_s, in_lab=self.simlab.call
                )
        elif self.operator is None:
            from ppu.core.operator import ConsoleOperator

            self.operator = ConsoleOperator(self.clock.loop)

    async def bring_up(self, ispec: InstrumentSpec, dspec: DeviceSpec, rig: Any) -> Any:
        """`open_device`, with any failure said in one line naming instrument, device and
        port (a port absent, refused or in use; a driver or device that cannot be built)."""
        where = f"{Path(self.lab.path).name}: instruments.{ispec.name}.devices.{dspec.name}"
        what = dspec.driver
        try:
            return await self.open_device(ispec, dspec, rig)
        except (BadInput, DeviceUnavailable):
            raise
        except PpuError as e:
            raise DeviceUnavailable(f"{where} ({what})", str(e)) from e
        except Exception as e:
            raise DeviceUnavailable(
                f"{where} ({what})", f"cannot be set up: {describe_error(e)}"
            ) from e

    def build_simulator(self, ispec: InstrumentSpec, dspec: DeviceSpec, rig: Any) -> Any:
        """The simulator behind one device, on this runtime's clock, attached to its
        instrument's rig (None: the instrument has none); kept in `self.simulators`. A
        resumed dry-run gets the one the journal last saw. Not yet serving: a dry-run serves
        it in the simulated lab (`open_device`), `ppu sim serve` on a TCP port for other
        processes (ppu/runtime/sim_serve.py); both build it here."""
        key = f"{ispec.name}.{dspec.name}"
        sim = self._restored["simulators"].get(key)  # as the journal last saw it
        if sim is None:
            from simulators.base import Faults

            model = self.lab.registry.instruments[dspec.driver]
            sim_cls = load(model.simulator)
            extra = rig.simulator_options(dspec.name, dspec.driver) if rig else {}
            sim = sim_cls(
                self.clock.monotonic,
                seed=dspec.simulator.seed,
                faults=Faults(rate=dspec.simulator.fault_rate, seed=dspec.simulator.seed + 1),
                **dspec.simulator.options,
                **extra,
            )
            if rig is not None and ispec.name not in self._restored["rigs"]:
                rig.attach(dspec.name, sim)
        self.simulators[key] = sim
        return sim

    async def open_device(self, ispec: InstrumentSpec, dspec: DeviceSpec, rig: Any) -> Any:
        """One device: its simulator (dry-run), port, driver and connected ophyd device."""
        from devices.port import SerialPort

        model = self.lab.registry.instruments[dspec.driver]
        key = f"{ispec.name}.{dspec.name}"
        url = dspec.port
        if self.dry_run:
            sim = self.build_simulator(ispec, dspec, rig)
            url = await self.simlab.run(sim.serve_tcp())
        trace = None
        if self.trace_dir is not None or dspec.trace:
            trace = (self.trace_dir or Path("traces")) / f"{key}.trace"
        # in a dry-run the URL is `sim://`: a read waits for the simulator, however busy the
        # host, and a silent simulator is known at once (simulators/protocol_sim.py)
        port = SerialPort(
            url, self.clock, baudrate=model.baudrate, timeout=model.timeout_s, trace=trace
        )
        port.on_fault = lambda e, i=ispec.name, d=dspec.name: self._fault(i, d, e)
        await port.open()
        self._ports.append(port)
        driver = load(model.driver)(port, **dspec.driver_options)
        self.drivers[key] = driver
        device = load(model.device)(
            driver, name=f"{ispec.name}_{dspec.name}", **dspec.limits, **dspec.settings
        )
        await device.connect()
        return device

    def _build_rig(self, ispec: InstrumentSpec) -> Any:
        """The shared physics behind a simulated instrument's devices."""
        assert ispec.rig is not None
        model = self.lab.registry.rigs[ispec.rig.model]
        places = {k: v.format(instrument=ispec.name) for k, v in model.places.items()}
        rig = self._restored["rigs"].get(ispec.name)
        if rig is None:
            try:
                rig = load(model.cls)(
                    self.clock.monotonic,
                    self.world,
                    seed=ispec.rig.seed,
                    **places,
                    **ispec.rig.options,
                )
            except Exception as e:
                raise DeviceUnavailable(
                    f"{Path(self.lab.path).name}: instruments.{ispec.name}.rig ({model.name})",
                    f"cannot be set up: {describe_error(e)}",
                ) from e
        self.rigs[ispec.name] = rig
        for action, fn in getattr(rig, "operator_actions", {}).items():
            self.operator.actions[f"{ispec.name}:{action}"] = fn
        return rig

    @property
    def serial_exchanges(self) -> int:
        """Requests written to instruments by this process (a figure for benchmarks)."""
        return sum(p.exchanges for p in self._ports)

    def persist_lab(self, campaign_id: str) -> None:
        """Dry-run: save the simulated lab with every journal commit of this campaign."""
        if not self.dry_run or self.simlab is None:
            return
        from ppu.lab.simlab import snapshot_lab

        simlab, clock = self.simlab, self.clock
        state = {"world": self.world, "rigs": self.rigs, "simulators": self.simulators}
        self.store.lab_snapshot = (
            campaign_id,
            lambda: simlab.call_now(lambda: snapshot_lab(state, clock)),
        )

    async def close(self) -> None:
        self._closing = True
        if self.store is not None:
            for inst in self.instruments.values():
                self.store.note_instrument(
                    inst.name,
                    state="offline",
                    launch_id=None,
                    kernel=None,
                    updated_v=self.clock.now(),
                )
        if self._dispatcher is not None:
            self._tasks.add(self._dispatcher)
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        for inst in self.instruments.values():
            await inst.lane.stop()
        for port in self._ports:
            await port.close()
        if self.store is not None:
            self.store.lab_snapshot = None  # the simulated lab stops here
        for sim in self.simulators.values():
            await self.simlab.run(sim.close())
        if self.simlab is not None:
            self.simlab.stop()
            self.simlab = None
        self.instruments.clear()
        self._ports.clear()
        self.simulators.clear()
        if self.store is not None:
            self.store.flush_documents()
