"""Retrying what is safe to repeat: queries and idempotent setpoints, never RUN."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from devices.errors import DriverError, PortClosed
from devices.port import SerialPort

T = TypeVar("T")


async def retry_safe(port: SerialPort, action: Callable[[], Awaitable[T]], attempts: int = 3) -> T:
    """Run an idempotent exchange, again after a transient fault (re-opening a dropped port)."""
    for attempt in range(1, attempts + 1):
        try:
            return await action()
        except DriverError as e:
            if not e.transient or attempt == attempts:
                raise
            if isinstance(e, PortClosed):
                try:
                    await port.reconnect()
                except DriverError:
                    if attempt == attempts - 1:
                        raise
    raise AssertionError("unreachable")
