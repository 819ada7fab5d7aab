"""Small plan stubs the kernels share."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from typing import Any, TypeVar

from bluesky.utils import Msg

T = TypeVar("T")


def call(fn: Callable[[], Awaitable[T]]) -> Generator[Msg, Any, T]:
    """Await a device coroutine (a tare, a stable weighing) from inside a plan."""
    futures = yield Msg("wait_for", None, [fn])
    return futures[0].result()
