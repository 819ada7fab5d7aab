"""Consumables: the stocks kernels draw on, and the refill a launch waits for.

A lab file declares its stocks with levels (`[consumables.metal_stock] level = "30 mL"`); a
kernel says what a launch takes (`@kernel(draws=…)`, from its inputs). Before a launch goes to
its instrument the stockroom takes its draws; one that would run a stock dry is held first,
with a "refill" operator step, and goes on once someone confirms it (the simulated chemist of
a dry-run after its delay, or a person through `ppu steps confirm` or the dashboard). The
refill fills the stock to its capacity and is recorded: the confirmed step (who, when) and
the stock's refill count. Levels are committed before the launch starts, so `ppu status`, the
API and a resumed controller see them. A real lab's stocks outlive campaigns (scope
`lab NAME`); a dry-run's belong to its simulated lab (scope `dry-run CAMPAIGN`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from ppu.core.errors import BadInput
from ppu.core.operator import OperatorStep
from ppu.core.units import Q_
from ppu.lab.spec import ConsumableSpec


class Stockroom:
    def __init__(
        self, specs: dict[str, ConsumableSpec], store: Any, scope: Callable[[], str | None]
    ) -> None:
        self.specs = specs
        self.store = store
        self._scope = scope  # asked on first use: a campaign's id is set after start-up
        self.scope: str | None = None
        self.levels = {n: s.level for n, s in specs.items()}
        self.refills = {n: 0 for n in specs}
        self._refilling: dict[str, asyncio.Future[None]] = {}
        self._loaded = False

    def _load(self, now: float) -> None:
        """The stored levels, if this scope has any (a resumed campaign, a real lab's
        earlier campaigns); a stock new to the lab file starts at its declared level."""
        self._loaded = True
        self.scope = self._scope()
        if self.store is None or self.scope is None or not self.specs:
            return
        for row in self.store.stocks(self.scope):
            if row.name in self.specs and row.unit == self.specs[row.name].unit:
                self.levels[row.name] = row.level
                self.refills[row.name] = row.refills
        self._save(now)

    def draws(self, kernel: Any, values: dict[str, Any]) -> dict[str, float]:
        """What a launch takes of each declared stock, in the stock's unit."""
        if kernel.draws is None or not self.specs:
            return {}
        out: dict[str, float] = {}
        for name, q in dict(kernel.draws(values)).items():
            spec = self.specs.get(name)
            if spec is None:
                continue  # a stock this lab does not track
            q = q if hasattr(q, "m_as") else Q_(float(q), "")
            try:
                out[name] = float(q.m_as(spec.unit))
            except Exception:
                raise BadInput(
                    f"kernel {kernel.name}",
                    f"draws {q:~P} of {name}, which the lab file counts in {spec.unit or 'items'}",
                ) from None
        return out

    async def take(self, launch: Any, values: dict[str, Any], operator: Any, now: Any) -> None:
        """Take the launch's draws, waiting first for the refill of any stock they would
        run dry. Levels are checked again after every wait (another launch may have drawn
        meanwhile) and taken with no wait in between; launches short of one stock share
        its one refill step. `launch` is the runtime's handle (its row is journaled)."""
        if not self._loaded:
            self._load(now())
        need = self.draws(launch.kernel, values)
        while short := [n for n, a in need.items() if not self._enough(n, a)]:
            await self._refill(short[0], need[short[0]], launch, operator, now)
        for name, amount in need.items():
            self.levels[name] -= amount
        if need:
            self._save(now())

    def _enough(self, name: str, amount: float) -> bool:
        return self.levels[name] >= amount - 1e-9 * max(1.0, amount)

    async def _refill(self, name: str, amount: float, launch: Any, operator: Any, now: Any) -> None:
        spec = self.specs[name]
        if amount > spec.capacity:
            raise BadInput(
                f"launch {launch.id} ({launch.kernel.name})",
                f"needs {_amount(amount, spec)} of {name}, more than it holds "
                f"({_amount(spec.capacity, spec)})",
            )
        if self.store is not None:
            self.store.journal(launch.row, "waiting", now(), f"waiting for a refill of {name}")
        asked = self._refilling.get(name)
        if asked is not None:  # someone is on it already; the caller checks again after
            try:
                await asyncio.shield(asked)
            except asyncio.CancelledError:
                if not asked.cancelled():
                    raise  # this launch itself was cancelled
            return
        asked = self._refilling[name] = asyncio.get_running_loop().create_future()
        text = (
            f"Refill {name}: {_amount(self.levels[name], spec)} left, launch {launch.id} "
            f"({launch.kernel.name}) needs {_amount(amount, spec)}; fill it to "
            f"{_amount(spec.capacity, spec)}"
        )
        try:
            await operator.perform(OperatorStep(text, launch_id=launch.id))
            self.levels[name] = spec.capacity
            self.refills[name] += 1
            self._save(now())
            asked.set_result(None)
        except asyncio.CancelledError:
            asked.cancel()  # its waiters ask for the refill themselves
            raise
        except Exception as e:
            asked.set_exception(e)
            asked.exception()  # retrieved: a waiter re-raises it, no one else need
            raise
        finally:
            self._refilling.pop(name, None)

    def _save(self, now: float) -> None:
        if self.store is None or self.scope is None:
            return
        rows = [
            {
                "name": n,
                "level": self.levels[n],
                "capacity": s.capacity,
                "unit": s.unit,
                "refills": self.refills[n],
            }
            for n, s in self.specs.items()
        ]
        self.store.set_stocks(self.scope, rows, now)


def _amount(value: float, spec: ConsumableSpec) -> str:
    return f"{value:.4g} {spec.unit}" if spec.unit else f"{value:.4g}"
