"""Serving the dashboard: in the foreground (`ppu serve`) or in a thread beside a campaign."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ppu.core.errors import BadInput

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def listen(host: str, port: int) -> socket.socket:
    """Bind first, so a port in use is one clear error, and port 0 picks a free one."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise BadInput("--host", f"'{host}' is not an address here ({e.strerror})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as e:
        sock.close()
        raise BadInput("--port", f"cannot listen on {host}:{port}: {e.strerror}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _server(db_url: str, token: str | None, host: str) -> tuple[Any, Any]:
    import uvicorn

    from ppu.api.app import create_app

    app = create_app(db_url, token, open_reads=is_loopback(host))
    config = uvicorn.Config(
        app,
        log_level="warning",
        lifespan="off",
        timeout_graceful_shutdown=2,
        access_log=False,
    )
    return app, uvicorn.Server(config)


@dataclass
class ServeHandle:
    """A dashboard serving from a thread of its own; `stop()` returns within seconds."""

    url: str
    token: str
    _server: Any = field(repr=False)
    _thread: threading.Thread = field(repr=False)
    _stopping: threading.Event = field(repr=False)

    def stop(self) -> None:
        self._stopping.set()  # live streams end at their next look at the store
        self._server.should_exit = True
        self._thread.join(STOP_TIMEOUT_S)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(STOP_TIMEOUT_S)

    def __enter__(self) -> ServeHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_in_thread(
    db_url: str, token: str | None = None, host: str = "127.0.0.1", port: int = 8765
) -> ServeHandle:
    """Serve the dashboard over `db_url` from a daemon thread with its own event loop.

    `token` None means $PPU_TOKEN or a generated one (read it from the handle). Port 0 picks
    a free port (read the handle's `url`). Raises BadInput if the address cannot be used."""
    sock = listen(host, port)
    app, server = _server(db_url, token, host)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="ppu-dashboard", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    if not server.started:
        server.should_exit = True
        thread.join(STOP_TIMEOUT_S)
        sock.close()
        raise RuntimeError(f"the dashboard did not start on {host}:{port}")
    return ServeHandle(url_of(sock), app.state.token, server, thread, app.state.stopping)


def serve_forever(
    db_url: str, token: str | None, host: str, port: int
) -> tuple[str, str, Callable[[], None]]:
    """For `ppu serve`: bind, then hand back (url, token, run) so the caller can print first."""
    from ppu.api.controller_watch import ControllerWatch
    from ppu.runtime.notifier import env_urls

    env_urls()  # a bad $PPU_NOTIFY is one line now, not a warning in the night
    sock = listen(host, port)
    app, server = _server(db_url, token, host)
    # in a process of its own, the server can tell when a controller stops or hangs
    watch = ControllerWatch(db_url)

    def run() -> None:
        watch.start()
        try:
            server.run(sockets=[sock])
        finally:
            app.state.stopping.set()
            watch.stop()
            sock.close()

    return url_of(sock), app.state.token, run
