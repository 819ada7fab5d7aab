"""`ppu sim serve`: a lab's simulators on TCP, on the wall clock, for a rehearsal of a real run.

A dry-run proves kernels, devices and drivers against simulators inside one process, on a
virtual clock. What it cannot prove is the real run's own path: the wall clock, plain
`socket://` serial lines to another process, the port locks, `ppu devices check` and
`ppu launch` without `--dry-run`. This module serves each device's simulator, with its
instrument's rig (the shared physics between an instrument's devices), built by the very
code a dry-run uses (`Runtime.build_simulator`, `Runtime._build_rig`), on 127.0.0.1, and
writes a copy of the lab file whose ports point at them. A controller given that file runs
as it would on the bench.

The served lab file is written beside the original (`<stem>.served.toml`) by default: a lab
file's `plugins` are modules found beside it, and the copy must find the same ones. It is
left in place on stop (its ports then answer no more); the next `sim serve` overwrites it.

Only instruments are served. Manual steps a kernel asks for go to the controller's own
operator (a person at the console), who cannot reach into the simulated world here.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import importlib.machinery
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tomli_w

from ppu.core.clock import Clock
from ppu.core.errors import BadInput, DeviceUnavailable, PpuError, describe_error
from ppu.lab.spec import LabSpec, load_lab, read_toml
from ppu.runtime.runtime import Runtime

HOST = "127.0.0.1"


class CannotWrite(PpuError):
    """The served lab file could not be written: exit 1."""


# -- the lab, as served -------------------------------------------------------------------


def reseeded(lab: LabSpec, offset: int) -> LabSpec:
    """The lab with every simulator's and rig's seed shifted by `offset` (0: unchanged)."""
    if not offset:
        return lab
    instruments = {}
    for name, ispec in lab.instruments.items():
        devices = {
            d: dataclasses.replace(
                dspec,
                simulator=dataclasses.replace(dspec.simulator, seed=dspec.simulator.seed + offset),
            )
            for d, dspec in ispec.devices.items()
        }
        rig = ispec.rig
        if rig is not None:
            rig = dataclasses.replace(rig, seed=rig.seed + offset)
        instruments[name] = dataclasses.replace(ispec, devices=devices, rig=rig)
    return dataclasses.replace(lab, instruments=instruments)


def served_path(lab_path: Path, out: Path | None, plugins: list[str]) -> Path:
    """Where the served lab file goes: `out`, or `<stem>.served.toml` beside the lab file.

    A plugin module found beside the lab file is found beside the served copy only if the
    copy is in the same folder: elsewhere, it is refused before anything is served."""
    folder = lab_path.resolve().parent
    if out is None:
        return folder / f"{lab_path.stem}.served.toml"
    if out.resolve() == lab_path.resolve():
        raise BadInput("--out", f"{out} is the lab file itself: name another file")
    if out.is_dir():
        raise BadInput("--out", f"{out} is a folder: name the lab file to write")
    if out.resolve().parent != folder:
        beside = [p for p in plugins if _found_beside(p, folder)]
        if beside:
            raise BadInput(
                "--out",
                f"{lab_path.name}'s plugins ({', '.join(beside)}) are modules beside it in "
                f"{folder}; the served lab file finds them only in that folder too "
                f"(e.g. --out {folder / out.name})",
            )
    return out


def _found_beside(module: str, folder: Path) -> bool:
    top = module.split(".")[0] if isinstance(module, str) else ""
    return bool(top) and importlib.machinery.PathFinder.find_spec(top, [str(folder)]) is not None


def served_lab(raw: dict[str, Any], urls: dict[str, str], lab_path: Path) -> dict[str, Any]:
    """The lab file's tables with each served device's port replaced by its URL; the name
    stays the original's (a lab file without one is named after its file)."""
    lab = copy.deepcopy(raw)
    lab.setdefault("name", lab_path.stem)
    for key, url in urls.items():
        instrument, device = key.split(".", 1)
        lab["instruments"][instrument]["devices"][device]["port"] = url
    return lab


def write_served(path: Path, lab: dict[str, Any], lab_path: Path) -> None:
    header = (
        f"# Written by `ppu sim serve` (pid {os.getpid()}) from {lab_path.resolve()}:\n"
        "# the same lab, its ports pointing at simulators served on the wall clock.\n"
        "# They answer only while that process runs.\n\n"
    )
    try:
        path.write_text(header + tomli_w.dumps(lab))
    except OSError as e:
        raise CannotWrite(f"{path}: cannot write the served lab file ({e.strerror or e})") from None


# -- serving ------------------------------------------------------------------------------


class SimServer:
    """A lab's simulators and rigs, built as a dry-run builds them, serving TCP on `clock`.

    They live on the simulated lab's own thread, as in a dry-run, and read `clock` (a wall
    clock here: the physics runs in real time)."""

    def __init__(
        self,
        lab: LabSpec,
        clock: Clock,
        *,
        host: str = HOST,
        first_port: int = 0,
        rfc2217: bool = False,
    ):
        self.lab = lab
        self.host = host
        self.first_port = first_port
        #: serve each device through an RFC 2217 server on `host`, as an instrument PC does;
        #: the simulators themselves then listen on 127.0.0.1 only
        self.rfc2217 = rfc2217
        self._fronts: list[Any] = []
        self.runtime = Runtime(lab, clock, store=None, dry_run=True)  # type: ignore[arg-type]
        #: one entry per device: instrument, device, driver, url (socket://host:port)
        self.served: list[dict[str, Any]] = []

    @property
    def urls(self) -> dict[str, str]:
        return {f"{s['instrument']}.{s['device']}": s["url"] for s in self.served}

    async def start(self) -> list[dict[str, Any]]:
        rt = self.runtime
        rt.prepare()
        try:
            for ispec in self.lab.instruments.values():
                rig = rt._build_rig(ispec) if ispec.rig else None
                for dspec in ispec.devices.values():
                    where = (
                        f"{Path(self.lab.path).name}: instruments.{ispec.name}"
                        f".devices.{dspec.name} ({dspec.driver})"
                    )
                    try:
                        sim = rt.build_simulator(ispec, dspec, rig)
                    except PpuError:
                        raise
                    except Exception as e:
                        raise DeviceUnavailable(
                            where, f"simulator cannot be set up: {describe_error(e)}"
                        ) from e
                    port = self.first_port + len(self.served) if self.first_port else 0
                    sim_host, sim_port = (HOST, 0) if self.rfc2217 else (self.host, port)
                    try:
                        url = await rt.simlab.run(sim.serve_tcp(sim_host, sim_port))
                        # `sim://` is for a driver in this process; another process reads a
                        # plain socket on its driver's timeout, as it would a networked port
                        url = "socket://" + url.removeprefix("sim://")
                        if self.rfc2217:
                            from ppu.runtime.rfc2217_front import Rfc2217Front

                            self._fronts.append(Rfc2217Front(self.host, port, url))
                            url = self._fronts[-1].url
                    except OSError as e:
                        raise DeviceUnavailable(
                            where, f"cannot serve on {self.host}:{port}: {e.strerror or e}"
                        ) from None
                    self.served.append(
                        {
                            "instrument": ispec.name,
                            "device": dspec.name,
                            "driver": dspec.driver,
                            "url": url,
                        }
                    )
        except BaseException:
            await self.stop()
            raise
        return self.served

    def requests(self) -> dict[str, int]:
        """How many requests each simulator has answered."""
        return {key: sim.requests for key, sim in self.runtime.simulators.items()}

    async def stop(self) -> None:
        """Close every server and connection and stop the simulated lab's thread."""
        for front in self._fronts:
            front.close()
        await self.runtime.close()


def serve(
    lab_path: Path,
    *,
    out: Path | None = None,
    seed: int = 0,
    first_port: int = 0,
    host: str = HOST,
    rfc2217: bool = False,
    on_ready: Callable[[dict[str, Any]], None] = lambda info: None,
) -> dict[str, Any]:
    """Serve the lab's simulators until SIGINT or SIGTERM; `on_ready` is told what serves
    where once the served lab file is written. Returns what was served, for the last word."""
    if not 0 <= first_port <= 65535:
        raise BadInput("--port", f"{first_port} is not a TCP port (0 … 65535)")
    lab = load_lab(lab_path)
    raw = read_toml(lab_path)
    n = sum(len(i.devices) for i in lab.instruments.values())
    if first_port and first_port + n - 1 > 65535:
        raise BadInput("--port", f"{n} devices from {first_port} go past port 65535")
    path = served_path(lab_path, out, list(raw.get("plugins", []))).resolve()
    clock = Clock.new_wall()
    server = SimServer(
        reseeded(lab, seed), clock, host=host, first_port=first_port, rfc2217=rfc2217
    )
    result: dict[str, Any] = {}

    async def main() -> None:
        stopped = asyncio.Event()
        loop = asyncio.get_running_loop()
        signals = (signal.SIGINT, signal.SIGTERM)

        def stop(sig: signal.Signals) -> None:
            result.setdefault("signal", sig.name)
            stopped.set()

        for sig in signals:
            loop.add_signal_handler(sig, stop, sig)
        try:
            await server.start()
            t0 = time.monotonic()
            try:
                write_served(path, served_lab(raw, server.urls, lab_path), lab_path)
                if not stopped.is_set():
                    on_ready(
                        {
                            "serving": True,
                            "lab": str(lab_path),
                            "served_lab": str(path),
                            "devices": server.served,
                            "seed": seed,
                            "pid": os.getpid(),
                        }
                    )
                await stopped.wait()
            finally:
                result["requests"] = server.requests()
                result["served_s"] = round(time.monotonic() - t0, 3)
                await server.stop()
        finally:
            for sig in signals:
                loop.remove_signal_handler(sig)

    try:
        clock.loop.run_until_complete(main())
    finally:
        clock.close()
    return {
        "stopped": True,
        "signal": result.get("signal"),
        "served_lab": str(path),
        "devices": len(server.served),
        "requests": result.get("requests", {}),
        "served_s": result.get("served_s"),
    }
