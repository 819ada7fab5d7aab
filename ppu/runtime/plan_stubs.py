"""Keep bluesky's plan stubs cheap enough for a dry-run.

bluesky wraps every plan-stub call (`bps.mv`, `bps.rd`, `bps.sleep`, …) in a `Plan` that
formats the whole call stack, reading source lines and stat-ing every file on it, only to
warn later if the plan is never iterated. A dry-run makes tens of thousands of such calls:
measured, a fifth of the controller's time. Here the warning stays (it names the plan)
and the stack capture goes; the lanes always iterate what a kernel yields.
"""

from __future__ import annotations

from typing import Any

from bluesky import utils as _bluesky_utils

_NEVER_ITERATED = "RuntimeWarning: plan `{}` was never iterated, did you mean to use `yield from`?"


def _plan_init(self: Any, f: Any, *args: Any, **kwargs: Any) -> None:
    self._iter = f(*args, **kwargs)
    self._stack = [_NEVER_ITERATED.format(getattr(f, "__name__", f))]


def install() -> None:
    """Idempotent; called when the first lane starts."""
    if _bluesky_utils.Plan.__init__ is not _plan_init:
        _bluesky_utils.Plan.__init__ = _plan_init  # type: ignore[method-assign]
