"""Errors a user sees, with the exit codes agreed in DESIGN.md."""

from __future__ import annotations

import traceback


class PpuError(Exception):
    """A runtime failure: exit code 1."""

    exit_code = 1


class BadInput(PpuError):
    """Bad input (file, argument, unit, bound), reported before anything moves: exit 2.

    `place` is where the problem is, e.g. `campaign.toml: search_space.temperature`.
    """

    exit_code = 2

    def __init__(self, place: str, problem: str) -> None:
        self.place = place
        self.problem = problem
        super().__init__(f"{place}: {problem}" if place else problem)


class Aborted(PpuError):
    """Aborted, or held for an operator: exit 3."""

    exit_code = 3


class SampleFailed(Exception):
    """The chemistry failed (no product, an amorphous powder, no measurable uptake): the
    experiment is FAILED, which the planner learns from, not ABANDONED."""


class StepNotDone(PpuError):
    """A person answered a manual step "could not do it" (no gloves, the dewar is empty):
    the kernel waiting on it fails, naming who and why."""


class InstrumentError(PpuError):
    """Something went wrong with an instrument (a port, a reply, a device): exit 1.

    Every driver error derives from it, so the runtime and the CLI classify a failure as an
    instrument's without knowing the driver."""


class DeviceUnavailable(InstrumentError):
    """A device of the lab could not be brought up: its port, driver or device."""

    def __init__(self, place: str, problem: str) -> None:
        self.place = place
        self.problem = problem
        super().__init__(f"{place}: {problem}")


class InstrumentUnavailable(PpuError):
    """The instrument a launch needs is quarantined after repeated faults."""


def describe_error(e: BaseException) -> str:
    """A one-line reason; bluesky wraps device errors in FailedStatus, so unwrap those."""
    seen = e
    while True:
        inner = seen.__cause__ or seen.__context__
        if type(seen).__name__ == "FailedStatus" and inner is not None:
            seen = inner
            continue
        break
    text = str(seen).strip() or type(seen).__name__
    if isinstance(seen, AssertionError | AttributeError | TypeError | KeyError | NameError):
        text += " [" + "".join(traceback.format_exception_only(seen)).strip() + "]"
    return f"{type(seen).__name__}: {text}" if type(seen).__name__ not in text else text
