"""One instrument's serial port: a pyserial URL, owned by one thread and one process.

Blocking pyserial calls run on the port's own thread so the event loop keeps serving
other lanes; each exchange holds the lab clock, so virtual time never moves while bytes
are on the wire. The port also keeps the wire trace and the cross-process port lock.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import os
import re
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

import serial

from devices.errors import DriverError, NoReply, PortClosed, PortInUse
from ppu.core.locks import OwnerLock, lock_dir

T = TypeVar("T")


class LabClock(Protocol):
    """What the device layer needs from the runtime's clock (see ppu.core.clock.Clock)."""

    loop: asyncio.AbstractEventLoop

    def now(self) -> float: ...
    def holding(self) -> contextlib.AbstractContextManager[None]: ...


class WireTrace:
    """Timestamped bytes both ways, one line each: `t_s  >>|<<  hex  |ascii|`."""

    def __init__(self, path: Path, clock: LabClock) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", buffering=1, encoding="ascii")
        self._clock = clock

    def header(self, url: str) -> None:
        self._file.write(f"# {url}\n")

    def record(self, direction: str, data: bytes) -> None:
        if not data:
            return
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in data)
        self._file.write(f"{self._clock.now():14.3f} {direction} {data.hex(' ')}  |{text}|\n")

    def close(self) -> None:
        self._file.close()


_CRASH_AT = int(os.environ.get("PPU_CRASH_AT_EXCHANGE", "0") or 0)
_exchanges = itertools.count(1)


def crash_point() -> None:
    """Fault injection for the crash-resume harness: with PPU_CRASH_AT_EXCHANGE=n the
    process SIGKILLs itself right after writing its n-th request, before the reply is read
    (the worst moment: the instrument may have acted, the controller never learns it)."""
    if _CRASH_AT and next(_exchanges) == _CRASH_AT:
        os.kill(os.getpid(), signal.SIGKILL)


class PortLock(OwnerLock):
    """One per port URL, so a second process gets 'port … in use by …'."""

    def __init__(self, url: str) -> None:
        self.url = url
        path = lock_dir() / (re.sub(r"[^A-Za-z0-9._-]", "_", url) + ".lock")
        super().__init__(path, lambda owner: PortInUse(f"port {url} in use by {owner}"))


class SerialPort:
    """A pyserial URL (`/dev/ttyUSB0`, `socket://127.0.0.1:7001`, `rfc2217://…`)."""

    def __init__(
        self,
        url: str,
        clock: LabClock,
        *,
        baudrate: int = 9600,
        timeout: float = 1.0,
        trace: Path | None = None,
        serial_factory: Callable[..., Any] = serial.serial_for_url,
    ) -> None:
        self.url = url
        self.clock = clock
        self.baudrate = baudrate
        self.timeout = timeout
        self._factory = serial_factory
        self._serial: Any = None
        self._lock = PortLock(url)
        self._trace = WireTrace(trace, clock) if trace else None
        self._thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=f"port:{url}")
        self._stale = False
        self.exchanges = 0  # requests written (and `call`s made) since the port opened
        #: told of every fault on this port, retried or not (the runtime records them)
        self.on_fault: Callable[[DriverError], None] | None = None

    # -- life cycle -----------------------------------------------------------------
    async def open(self) -> None:
        self._lock.acquire()
        try:
            await self._run(self._open_blocking)
        except BaseException:
            self._lock.release()
            raise

    def _open_blocking(self) -> None:
        if self._trace:
            self._trace.header(self.url)
        try:
            self._serial = self._factory(self.url, baudrate=self.baudrate, timeout=self.timeout)
        except (serial.SerialException, OSError, ValueError) as e:
            raise PortClosed(f"cannot open port {self.url}: {why_not_open(self.url, e)}") from None

    async def close(self) -> None:
        """Give up the port now, and close it on the port thread without waiting:
        pyserial's socket close sleeps 0.3 s "to give the server time", which a shutdown
        of many ports need not pay in series."""
        serial_obj, self._serial = self._serial, None
        self._lock.release()

        def close_blocking() -> None:
            try:
                if serial_obj is not None:
                    serial_obj.close()
            except Exception:
                pass
            finally:
                if self._trace:
                    self._trace.close()

        self._thread.submit(close_blocking)
        self._thread.shutdown(wait=False)

    async def reconnect(self) -> None:
        """Re-open after a dropped connection (a simulator restart, a cable re-seated).
        The dead connection is closed off to one side: pyserial's socket close sleeps."""
        dead, self._serial = self._serial, None
        if dead is not None:
            _CLOSER.submit(_close_quietly, dead)
        await self._run(self._open_blocking)

    # -- exchanges ------------------------------------------------------------------
    async def query(self, request: bytes, read: Callable[[Any], bytes]) -> bytes:
        """Write `request`, then `read(serial)` the reply on the port thread."""
        return await self._run(self._query_blocking, request, read)

    async def query_line(self, request: bytes, terminator: bytes) -> bytes:
        """Write `request` and read one reply up to `terminator` (terminator stripped)."""
        reply = await self.query(request, read_until(terminator))
        return reply[: -len(terminator)]

    async def write(self, request: bytes) -> None:
        await self._run(self._query_blocking, request, None)

    async def call(self, fn: Callable[[Any], T]) -> T:
        """Run `fn(serial)` on the port thread, holding the clock, for a library that does its
        own reads and writes (minimalmodbus). `fn` gets the open serial object wrapped so that
        every byte both ways still goes to the wire trace; it should raise the driver's typed
        errors (NoReply marks the port stale, as in `query`)."""

        def blocking() -> T:
            s = self._serial
            if s is None:
                raise PortClosed(f"{self.url} is not open")
            try:
                if self._stale:
                    s.reset_input_buffer()
                    self._stale = False
                return fn(_TracedSerial(s, self._record))
            except NoReply as e:
                self._stale = True
                raise NoReply(f"{self.url}: {e}") from None
            except (serial.SerialException, OSError, ConnectionError) as e:
                self._stale = True
                raise PortClosed(f"{self.url}: connection lost ({e})") from None

        return await self._run(blocking)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        self.exchanges += 1
        with self.clock.holding():
            try:
                return await self.clock.loop.run_in_executor(self._thread, fn, *args)
            except DriverError as e:
                if self.on_fault is not None:
                    self.on_fault(e)
                raise

    def _query_blocking(self, request: bytes, read: Callable[[Any], bytes] | None) -> bytes:
        s = self._serial
        if s is None:
            raise PortClosed(f"{self.url} is not open")
        try:
            if self._stale:
                # A reply that came too late would be read as the answer to this request.
                s.reset_input_buffer()
                self._stale = False
            s.write(request)
            self._record(">>", request)
            crash_point()
            if read is None:
                return b""
            reply = read(s)
        except NoReply as e:
            # Whatever arrives late must not be taken for the next reply.
            self._stale = True
            self._record("<<", getattr(e, "partial", b""))
            raise NoReply(f"{self.url}: {e} after {request!r}") from None
        except (serial.SerialException, OSError, ConnectionError) as e:
            self._stale = True
            raise PortClosed(f"{self.url}: connection lost ({e})") from None
        self._record("<<", reply)
        return reply

    def _record(self, direction: str, data: bytes) -> None:
        if self._trace:
            self._trace.record(direction, data)


class _TracedSerial:
    """The open serial object as `SerialPort.call` hands it out: writes and reads are traced."""

    def __init__(self, serial_obj: Any, record: Callable[[str, bytes], None]) -> None:
        self._serial = serial_obj
        self._record = record

    def write(self, data: bytes) -> int | None:
        n = self._serial.write(data)
        crash_point()
        self._record(">>", bytes(data))
        return n

    def read(self, size: int = 1) -> bytes:
        data = self._serial.read(size)
        self._record("<<", data)
        return data

    def read_until(self, expected: bytes = b"\n", size: int | None = None) -> bytes:
        data = self._serial.read_until(expected, size)
        self._record("<<", data)
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._serial, name)


_CLOSER = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="port-closer")


def _close_quietly(serial_obj: Any) -> None:
    with contextlib.suppress(Exception):
        serial_obj.close()


_ERRNO = re.compile(r"\[Errno (\d+)\]")


def why_not_open(url: str, e: BaseException) -> str:
    """What a person should know when a port does not open, in words, with the next step."""
    import errno

    found = [int(n) for n in _ERRNO.findall(str(e))]
    code = getattr(e, "errno", None) or (found[-1] if found else None)
    network = "://" in url
    if code in (errno.ENOENT, errno.ENODEV, errno.ENXIO):
        return "no such device (is the instrument plugged in and powered? see `ls /dev/tty*`)"
    if code in (errno.EACCES, errno.EPERM):
        return "permission denied (is your user in the group that owns the port, e.g. dialout?)"
    if code == errno.EBUSY:
        return "busy: another program has the port open"
    if code == errno.ECONNREFUSED:
        return "connection refused (nothing listens there: is the instrument server running?)"
    if code in (errno.ETIMEDOUT, errno.EHOSTUNREACH, errno.ENETUNREACH):
        return "cannot reach the host (check the network and the address)"
    if network and "Name or service not known" in str(e):
        return "unknown host name"
    text = str(e).splitlines()[0] if str(e) else type(e).__name__
    return text.replace(f"could not open port {url}: ", "")


def read_until(terminator: bytes) -> Callable[[Any], bytes]:
    """A reader for `SerialPort.query`: one reply ending in `terminator`, or NoReply."""

    def read(s: Any) -> bytes:
        data = s.read_until(terminator)
        if not data.endswith(terminator):
            err = NoReply(f"no complete reply (got {data!r})")
            err.partial = data  # type: ignore[attr-defined]
            raise err
        return data

    return read
