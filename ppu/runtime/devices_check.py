"""`ppu devices check`: which instruments answer, what they say they are, and their state.

Each device is tried on its own, so one dead instrument does not hide the others; a
failure is reported with the reason in the words of the layer that found it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ppu.core.clock import Clock
from ppu.core.errors import DeviceUnavailable, describe_error
from ppu.lab.spec import LabSpec
from ppu.runtime.runtime import Runtime


async def check_lab(lab: LabSpec, clock: Clock, *, dry_run: bool) -> list[dict[str, Any]]:
    rt = Runtime(lab, clock, store=None, dry_run=dry_run)  # type: ignore[arg-type]
    rt.prepare()
    report: list[dict[str, Any]] = []
    try:
        for ispec in lab.instruments.values():
            rig = rt._build_rig(ispec) if dry_run and ispec.rig else None
            for dspec in ispec.devices.values():
                entry: dict[str, Any] = {
                    "instrument": ispec.name,
                    "device": dspec.name,
                    "driver": dspec.driver,
                    "port": dspec.port,
                    "answers": False,
                }
                try:
                    device = await rt.bring_up(ispec, dspec, rig)
                    driver = rt.drivers[f"{ispec.name}.{dspec.name}"]
                    entry["identity"] = await driver.identity()
                    reading = await device.read()
                    entry["status"] = {
                        k.removeprefix(f"{device.name}-"): _plain(v["value"])
                        for k, v in reading.items()
                    }
                    entry["answers"] = True
                except DeviceUnavailable as e:  # reported, not raised: the next is tried
                    entry["why"] = e.problem
                except Exception as e:
                    entry["why"] = describe_error(e)
                report.append(entry)
    finally:
        await rt.close()
    return report


def _plain(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else v


def run_check(lab: LabSpec, *, dry_run: bool) -> list[dict[str, Any]]:
    clock = Clock.new_virtual() if dry_run else Clock.new_wall()
    try:
        return clock.loop.run_until_complete(check_lab(lab, clock, dry_run=dry_run))
    finally:
        pending = [t for t in asyncio.all_tasks(clock.loop) if not t.done()]
        for t in pending:
            t.cancel()
        clock.close()
