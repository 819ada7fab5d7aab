"""pyserial's `sim://host:port`: the line from a driver to an instrument simulator.

On the wire it is a plain TCP socket, as `socket://`. What differs is how long a read
waits. A real instrument that has not answered within the driver's timeout is not going
to; a simulator on a busy machine may simply not have been scheduled yet. In a dry-run the
two must not be confused, or a loaded host turns into lost replies, retries and a different
campaign from the same seed. So when the simulator serves in this process, a read waits
until it has dealt with every byte written to it and every byte of its replies has arrived
(`InstrumentSimulator.line_settled`); only then does a short read mean the instrument is
silent. Lab time cannot move meanwhile: the exchange holds the clock. A simulator in
another process is read like `socket://`, on the driver's timeout.

pyserial finds this module by its name (`protocol_<scheme>` in a package listed in
`serial.protocol_handler_packages`; `simulators/__init__.py` lists this package).
"""

from __future__ import annotations

import select
import urllib.parse
from typing import Any

from serial import SerialException
from serial.urlhandler.protocol_socket import Serial as SocketSerial

from simulators.base import SERVING, InstrumentSimulator

#: how long a waiting read waits on the socket before it looks at the simulator again (s)
_LOOK_S = 0.005
#: a simulator that has not settled the line after this many looks (about a minute) has
#: failed (its thread hung or died): the read gives up, and the driver reports NoReply
_STALLED_LOOKS = 12_000


class Serial(SocketSerial):
    """A socket to a simulator; reads end when the simulator is done, not on a timer."""

    def open(self) -> None:
        self._rx = bytearray()
        self._written = 0
        self._received = 0
        self._simulator: InstrumentSimulator | None = None
        super().open()
        _, port = self.from_url(self.portstr)
        self._simulator = SERVING.get(port)
        self._client_port = self._socket.getsockname()[1]

    def from_url(self, url: str) -> tuple[str, int]:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "sim":
            raise SerialException(f"expected sim://<host>:<port>, not {url!r}")
        return super().from_url(urllib.parse.urlunsplit(("socket", *parts[1:])))

    # -- the simulator's side of the line ---------------------------------------------------
    def _settled(self) -> bool:
        sim = self._simulator
        if sim is None:
            return False
        return sim.line_settled(self._client_port, self._written, self._received)

    def _take(self, wait: float) -> bool:
        """Move what has arrived into the buffer, waiting up to `wait` s for it."""
        ready, _, _ = select.select([self._socket], [], [], wait)
        if not ready:
            return False
        try:
            data = self._socket.recv(4096)
        except BlockingIOError:
            return False
        except OSError as e:
            raise SerialException(f"read failed: {e}") from None
        if not data:
            raise SerialException("socket disconnected")
        self._received += len(data)
        self._rx += data
        return True

    def _wait_for(self, size: int | None) -> None:
        """Buffer `size` bytes, or everything the simulator will send (`None`: all of it)."""
        looks = 0
        while size is None or len(self._rx) < size:
            settled = self._settled()  # before looking at the socket: then nothing is late
            if self._take(0 if settled else _LOOK_S):
                looks = 0
                continue
            looks += 1
            if settled or looks > _STALLED_LOOKS:
                return

    # -- pyserial's reading interface: with no simulator in this process, as socket:// --------
    def read(self, size: int = 1) -> bytes:
        if self._simulator is None or not self.is_open:
            return super().read(size)
        self._wait_for(size)
        data = bytes(self._rx[:size])
        del self._rx[:size]
        return data

    def read_until(self, expected: bytes = b"\n", size: int | None = None) -> bytes:
        if self._simulator is None:
            return super().read_until(expected, size)
        line = bytearray()
        while True:
            c = self.read(1)
            if not c:
                break
            line += c
            if line.endswith(expected) or (size is not None and len(line) >= size):
                break
        return bytes(line)

    @property
    def in_waiting(self) -> int:
        if self._simulator is None:
            return super().in_waiting
        self._wait_for(None)
        return len(self._rx)

    def write(self, data: Any) -> int:
        n = super().write(data)
        self._written += n or 0
        return n

    def reset_input_buffer(self) -> None:
        if self._simulator is None or not self.is_open:
            super().reset_input_buffer()
            return
        self._rx.clear()
        while self._take(0):
            pass
        self._rx.clear()
