"""Typed errors every driver raises. Nothing else may escape a reply parser."""

from __future__ import annotations

from ppu.core.errors import InstrumentError


class DriverError(InstrumentError):
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


#: refusal codes that line noise produces: the instrument did not recognise a command that
#: was corrupted on its way in (NE-1000 and Alicat `?`, `?COM`; MT-SICS ES, ET; MKS NAK160;
#: VICI "Bad command"; Modbus exception 04; a Pfeiffer TPG's syntax-error word 0001).
#: Repeating an idempotent command is safe.
LINE_NOISE_CODES = frozenset({"?", "?COM", "ES", "ET", "160", "Bad command", "04", "0001"})


class InstrumentRefused(DriverError):
    """The instrument understood the line and said no (an error or alarm reply)."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code
        #: a refusal that a corrupted command explains; one that stands (out of range,
        #: not stable yet, an alarm) is not repeated blindly
        self.transient = type(self).transient or code in LINE_NOISE_CODES


class PortClosed(DriverError):
    """The connection dropped (cable pulled, simulator restarted)."""

    transient = True


class PortInUse(DriverError):
    """Another process owns this port."""


class LimitError(ValueError):
    """A setpoint outside a device's hard limits, refused before a byte is written."""
