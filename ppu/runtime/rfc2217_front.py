"""An RFC 2217 server in front of a simulator's socket: an instrument PC, rehearsed.

On a real instrument PC the serial ports are reached over the network through RFC 2217
(ser2net, or pyserial's server): the controller's lab file says `rfc2217://pc:7001`, and the
line settings the driver asks for (baud rate, parity) travel as telnet options. `ppu sim
serve --rfc2217` puts the same protocol in front of each simulator, so a controller on another
host (or another network namespace) runs through exactly the path a bench PC gives it. The
protocol side is pyserial's `PortManager`; this module is the listening and the byte pumps.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any

import serial
from serial.rfc2217 import PortManager


class _Connection:
    """What `PortManager` writes its telnet answers to: the client's socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.lock = threading.Lock()

    def write(self, data: bytes) -> None:
        with self.lock:
            self.sock.sendall(data)


class Rfc2217Front:
    """Listens on `host:port`; each client gets its own line to the simulator at `target`
    (a `socket://` URL), as a serial server gives each session the port."""

    def __init__(self, host: str, port: int, target: str) -> None:
        self.target = target
        self._listener = socket.create_server((host, port))
        self._listener.settimeout(0.2)
        self.url = f"rfc2217://{host}:{self._listener.getsockname()[1]}"
        self._stop = threading.Event()
        self._sessions: list[tuple[socket.socket, Any]] = []
        self._threads: list[threading.Thread] = []
        self._start(self._accept)

    def _start(self, fn: Any, *args: Any) -> None:
        t = threading.Thread(target=fn, args=args, daemon=True, name=f"rfc2217 {self.url}")
        self._threads.append(t)
        t.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                line = serial.serial_for_url(self.target, timeout=0.05)
            except (OSError, serial.SerialException):
                client.close()  # the simulator is gone: the client sees the port refuse
                continue
            manager = PortManager(line, _Connection(client))
            self._sessions.append((client, line))
            self._start(self._to_line, client, line, manager)
            self._start(self._to_client, client, line, manager, manager.connection)

    def _to_line(self, client: socket.socket, line: Any, manager: PortManager) -> None:
        """Client → simulator: telnet options are answered, the payload goes on the line."""
        try:
            while not self._stop.is_set():
                data = client.recv(4096)
                if not data:
                    break
                payload = b"".join(manager.filter(data))
                if payload:
                    line.write(payload)
        except (OSError, serial.SerialException):
            pass
        finally:
            self._end(client, line)

    def _to_client(
        self, client: socket.socket, line: Any, manager: PortManager, out: _Connection
    ) -> None:
        """Simulator → client, escaped as telnet needs; through the one locked writer the
        telnet answers also use, so the two never interleave on a slow link."""
        try:
            while not self._stop.is_set():
                data = line.read(line.in_waiting or 1)
                if data:
                    out.write(b"".join(manager.escape(data)))
        except (OSError, serial.SerialException, TypeError):
            pass  # TypeError: pyserial's socket line closed under a read
        finally:
            self._end(client, line)

    @staticmethod
    def _end(client: socket.socket, line: Any) -> None:
        with contextlib.suppress(OSError):
            client.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            client.close()
        with contextlib.suppress(Exception):
            line.close()

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        for client, line in self._sessions:
            self._end(client, line)
        for t in self._threads:
            t.join(timeout=2)
