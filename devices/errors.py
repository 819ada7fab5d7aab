"""Typed errors every driver raises. Nothing else may escape a reply parser."""

from __future__ import annotations


class DriverError(Exception):
    """Something went wrong talking to an instrument."""

    #: A read or query that failed this way may be repeated safely.
    transient = False


class NoReply(DriverError):
    """The instrument did not answer within the timeout."""

    transient = True


class GarbledReply(DriverError):
    """The reply did not parse: noise on the line, a wrong baud rate, a half-sent frame."""

    transient = True

    def __init__(self, message: str, raw: bytes = b"") -> None:
        super().__init__(f"{message}: {raw!r}" if raw else message)
        self.raw = raw


class InstrumentRefused(DriverError):
    """The instrument understood the line and said no (an error or alarm reply)."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class PortClosed(DriverError):
    """The connection dropped (cable pulled, simulator restarted)."""

    transient = True


class PortInUse(DriverError):
    """Another process owns this port."""


class LimitError(ValueError):
    """A setpoint outside a device's hard limits, refused before a byte is written."""
