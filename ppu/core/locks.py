"""Advisory lock files that name their owner: one process per serial port, one controller
per campaign. The OS drops a lock with its process, however the process ends."""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path


def lock_dir() -> Path:
    """Where lock files live: PPU_LOCK_DIR, or a folder in the system's temp dir."""
    d = Path(os.environ.get("PPU_LOCK_DIR", Path(tempfile.gettempdir()) / "ppu-ports"))
    d.mkdir(parents=True, exist_ok=True)
    return d


class OwnerLock:
    """An advisory lock file that names its owner, so a second process is told who has it.
    The OS drops it with the process, however the process ends."""

    def __init__(self, path: Path, busy: Callable[[str], Exception]) -> None:
        self.path = path
        self._busy = busy
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = Path(self.path).read_text(errors="replace").strip() or "another process"
            os.close(fd)
            raise self._busy(owner) from None
        os.ftruncate(fd, 0)
        me = f"ppu pid {os.getpid()} on {socket.gethostname()} ({' '.join(sys.argv[:3])})"
        os.write(fd, me.encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)
            self._fd = None
