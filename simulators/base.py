"""What every instrument simulator shares: serving its wire protocol, and seeded faults.

A simulator answers each request at once; the physics between requests is computed from
the clock it was given (`now()`), so on the virtual clock a week passes in a jump.
It serves over TCP (`sim://127.0.0.1:PORT`, see `protocol_sim`) or over a pty for drivers
bound to a device path. Faults are drawn from the simulator's own seeded generator, or forced by a
test with `faults.force(kind)`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import termios
import tty
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

FaultKind = Literal["no_reply", "garbled", "error_reply", "disconnect", "stuck"]
FAULT_KINDS: tuple[FaultKind, ...] = ("no_reply", "garbled", "error_reply", "disconnect", "stuck")


@dataclass
class Faults:
    """Seeded fault injection on reads and writes.

    `rate` is the chance that one request meets a fault, split evenly over `kinds`.
    `stuck_for` is how many requests a stuck reading stays stuck.
    """

    rate: float = 0.0
    kinds: tuple[FaultKind, ...] = FAULT_KINDS
    seed: int = 0
    stuck_for: int = 5
    log: list[tuple[float, FaultKind, bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._forced: deque[FaultKind] = deque()

    def force(self, kind: FaultKind, times: int = 1) -> None:
        """Make the next `times` requests meet `kind` (tests use this)."""
        self._forced.extend([kind] * times)

    def draw(self) -> FaultKind | None:
        if self._forced:
            return self._forced.popleft()
        if self.rate > 0 and self._rng.random() < self.rate:
            return self._rng.choice(self.kinds)
        return None

    def garble(self, reply: bytes) -> bytes:
        """Flip bits in a copy of `reply`, keeping its length and framing end."""
        if not reply:
            return bytes([self._rng.randrange(256)])
        b = bytearray(reply)
        for _ in range(max(1, len(b) // 4)):
            i = self._rng.randrange(max(1, len(b) - 1))
            b[i] ^= 1 << self._rng.randrange(7)
        return bytes(b)


#: simulators serving TCP in this process, by listening port (for `sim://` lines)
SERVING: dict[int, InstrumentSimulator] = {}


class InstrumentSimulator(ABC):
    """A protocol twin. Subclasses implement `answer` and the framing of requests."""

    #: the end of one request on the wire
    request_terminator: bytes = b"\r"

    def __init__(self, now: Callable[[], float], *, seed: int = 0, faults: Faults | None = None):
        self.now = now
        self.rng = random.Random(seed)
        self.faults = faults or Faults(seed=seed)
        self.requests = 0
        self._stuck_left = 0
        self._stuck_values: dict[str, float] = {}
        self._servers: list[asyncio.AbstractServer] = []
        self._writers: set[asyncio.StreamWriter] = set()
        self._connections: set[asyncio.Task[None]] = set()
        self._pty_fds: list[int] = []
        self._after_request: list[Callable[[], None]] = []
        self._lines: dict[int, list[int]] = {}
        self._closing = False

    #: what belongs to serving (sockets, tasks), not to the instrument: not in a snapshot
    _TRANSPORT = (
        "_servers",
        "_writers",
        "_connections",
        "_pty_fds",
        "_pty_task",
        "_lines",
        "_closing",
    )

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in self._TRANSPORT}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._servers, self._writers, self._connections, self._pty_fds = [], set(), set(), []
        self._lines = {}
        self._closing = False

    def after_each_request(self, hook: Callable[[], None]) -> None:
        """Call `hook()` after every request (a rig logging a reactor's temperature)."""
        self._after_request.append(hook)

    # -- protocol, per instrument model -----------------------------------------------
    @abstractmethod
    def answer(self, request: bytes) -> bytes | None:
        """The full reply (with framing) to one request, or None when the model is silent."""

    @abstractmethod
    def error_reply(self, request: bytes) -> bytes:
        """The model's own error reply, used when an `error_reply` fault is injected."""

    async def read_request(self, reader: asyncio.StreamReader) -> bytes:
        return await reader.readuntil(self.request_terminator)

    # -- stuck readings ---------------------------------------------------------------
    def reading(self, key: str, value: float) -> float:
        """Report `value`, unless a `stuck` fault froze this reading at an older one."""
        if self._stuck_left > 0 and key in self._stuck_values:
            return self._stuck_values[key]
        self._stuck_values[key] = value
        return value

    # -- one request through the fault model ------------------------------------------
    def respond(self, request: bytes) -> tuple[bytes | None, bool]:
        """(reply, drop_connection) for one request, faults applied."""
        self.requests += 1
        if self._stuck_left > 0:
            self._stuck_left -= 1
        fault = self.faults.draw()
        if fault:
            self.faults.log.append((self.now(), fault, request))
        if fault == "stuck":
            self._stuck_left = self.faults.stuck_for
            fault = None
        if fault == "no_reply":
            return None, False
        if fault == "disconnect":
            return None, True
        if fault == "error_reply":
            return self.error_reply(request), False
        reply = self.answer(request)
        for hook in self._after_request:
            hook()
        if fault == "garbled" and reply is not None:
            reply = self.faults.garble(reply)
        return reply, False

    # -- serving ----------------------------------------------------------------------
    async def serve_tcp(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on `host:port` (0 = any free port); return the pyserial URL to open.

        The URL is `sim://…`: a plain TCP socket on the wire, whose reads wait for this
        simulator rather than for the wall clock (see `protocol_sim`)."""
        self._closing = False  # served again after a close
        server = await asyncio.start_server(self._serve_stream, host, port)
        self._servers.append(server)
        bound = server.sockets[0].getsockname()
        SERVING[bound[1]] = self
        return f"sim://{bound[0]}:{bound[1]}"

    def line_settled(self, client_port: int, written: int, received: int) -> bool:
        """True once every byte a client wrote on this connection has been dealt with and
        it has received every byte of every reply: nothing more is coming its way."""
        line = self._lines.get(client_port)
        if line is None:
            return False
        consumed = line[0]  # read before `replied`, which is counted first (see below)
        return consumed >= written and received >= line[1]

    async def _serve_stream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        if self._closing:  # accepted as the simulator closed: its handler must not outlive it
            writer.close()
            return
        self._writers.add(writer)
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        peer = writer.get_extra_info("peername")
        client_port = peer[1] if isinstance(peer, tuple) else -1
        line = self._lines.setdefault(client_port, [0, 0])  # bytes consumed, bytes replied
        try:
            while True:
                try:
                    request = await self.read_request(reader)
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                except asyncio.LimitOverrunError:
                    line[0] += len(await reader.read(65536))
                    continue
                reply, drop = self.respond(request)
                if drop:
                    return
                if reply:
                    line[1] += len(reply)
                    writer.write(reply)
                    await writer.drain()
                line[0] += len(request)
        finally:
            self._lines.pop(client_port, None)
            self._writers.discard(writer)
            if task is not None:
                self._connections.discard(task)
            writer.close()

    async def serve_pty(self) -> str:
        """Serve on a new pseudo-terminal; return its device path for the driver."""
        master, slave = os.openpty()
        tty.setraw(slave, termios.TCSANOW)
        self._pty_fds += [master, slave]
        os.set_blocking(master, False)
        reader = asyncio.StreamReader()
        loop = asyncio.get_running_loop()

        def readable() -> None:
            try:
                data = os.read(master, 4096)
            except OSError:
                return
            reader.feed_data(data)

        loop.add_reader(master, readable)

        class _PtyWriter:
            def write(self, data: bytes) -> None:
                os.write(master, data)

        async def pump() -> None:
            while True:
                try:
                    request = await self.read_request(reader)
                except asyncio.LimitOverrunError:
                    await reader.read(65536)
                    continue
                reply, _ = self.respond(request)
                if reply:
                    _PtyWriter().write(reply)

        self._pty_task = asyncio.ensure_future(pump())
        return os.ttyname(slave)

    async def close(self) -> None:
        self._closing = True
        for server in self._servers:
            for sock in server.sockets:
                SERVING.pop(sock.getsockname()[1], None)
            server.close()
        for _ in range(3):  # a connection accepted just now gets its handler started
            await asyncio.sleep(0)
        for w in list(self._writers):
            w.close()
        if self._connections:
            # Closing our side feeds EOF to each handler, which then returns by itself
            # (cancelling them makes asyncio's stream callback log a spurious error).
            _, late = await asyncio.wait(self._connections, timeout=1.0)
            for task in late:
                task.cancel()
            # a cancelled handler still has to run to its end: wait for it, or it outlives
            # the simulator (a loaded machine makes the 1 s above too short)
            await asyncio.gather(*late, return_exceptions=True)
        self._connections.clear()
        for server in self._servers:
            with contextlib.suppress(Exception):
                await server.wait_closed()
        self._servers.clear()
        if self._pty_fds:
            self._pty_task.cancel()
            with contextlib.suppress(BaseException):
                await self._pty_task
            asyncio.get_running_loop().remove_reader(self._pty_fds[0])
            for fd in self._pty_fds:
                with contextlib.suppress(OSError):
                    os.close(fd)
            self._pty_fds.clear()
