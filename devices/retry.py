"""Retrying what is safe to repeat: queries and idempotent setpoints, never RUN."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from devices.errors import DriverError, PortClosed
from devices.port import SerialPort

T = TypeVar("T")


async def retry_safe(
    port: SerialPort,
    action: Callable[[], Awaitable[T]],
    attempts: int = 5,
    backoff_s: float = 0.5,
) -> T:
    """Run an idempotent exchange again after a fault (re-opening a dropped port), waiting a
    little longer each time (on the lab clock) so a flaky line can recover.

    A refusal that line noise explains (an unrecognised command: `InstrumentRefused.transient`)
    is retried too, since repeating a query or a setpoint changes nothing; a refusal that
    stands (out of range, not stable yet) is raised at once. Five attempts: at a 5 % fault
    rate three in a row fail once in 8,000 exchanges, and a campaign makes tens of
    thousands."""
    for attempt in range(1, attempts + 1):
        try:
            return await action()
        except DriverError as e:
            if attempt == attempts or not e.transient:
                raise
            if isinstance(e, PortClosed):
                try:
                    await port.reconnect()
                except DriverError:
                    if attempt == attempts - 1:
                        raise
            await asyncio.sleep(backoff_s * 2 ** (attempt - 1))
    raise AssertionError("unreachable")
