"""Where computed kernels run: a local pool of worker threads by default, or a Dask cluster
when the lab (or campaign) names a scheduler address.

A computed kernel (fidelity `computed`) is a plain function of its inputs. The runtime
sends it off as a `ComputeTask` and gets a `ComputeOutcome` back. Both are plain data, with
quantities as (magnitude, unit), so a task crosses to another process as it is: the worker
imports ppu and the kernel's plugin module by name, as the lab did (a file plugin from
the folder the lab found it in, so workers must share that path or have the plugin
installed); no function crosses as bytes. On the worker the kernel
gets a `RecordingContext`, whose `measure` only records. The runtime then stores those
records as the launch's measurements, with the lab's clock and journal. The same path runs
locally and on Dask, so a dry-run gives the same campaign either way. In a dry-run the clock
counts only the kernel's declared cost (`cost_s`), never the time spent computing.

On Dask, the scheduler runs a task again elsewhere when its worker dies. The pool watches
which worker is processing each task (`Client.processing`, polled while tasks are out).
When a result comes from a different worker than the one first seen, the outcome says so,
and the runtime journals the re-run.
"""

from __future__ import annotations

import concurrent.futures
import importlib
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

#: how often the Dask pool looks at which worker processes what (s of wall time)
WATCH_EVERY_S = 0.1
#: how long connecting to a scheduler may take (s)
CONNECT_TIMEOUT_S = 10.0


class ComputeUnavailable(RuntimeError):
    """The pool computed kernels run on cannot be made (a scheduler out of reach)."""


def to_plain(value: Any) -> Any:
    """A kernel input or output as plain data: a quantity becomes ("q", magnitude, unit)."""
    from ppu.core.units import Quantity, unit_text

    if isinstance(value, Quantity):
        return ("q", float(value.magnitude), unit_text(value.units))
    return value


def from_plain(value: Any) -> Any:
    from ppu.core.units import Q_

    if isinstance(value, tuple) and len(value) == 3 and value[0] == "q":
        return Q_(value[1], value[2])
    return value


@dataclass(frozen=True)
class ComputeTask:
    launch_id: int
    kernel: str
    module: str  # the plugin module that defines the kernel
    search_path: str | None  # where that module was imported from (a file plugin's folder)
    values: dict[str, Any]  # plain (see `to_plain`)

    @classmethod
    def of(cls, launch_id: int, kernel: Any, values: Mapping[str, Any]) -> ComputeTask:
        module = kernel.body.__module__
        found = sys.modules.get(module)
        path = None
        file = getattr(found, "__file__", None)
        if file:
            root = Path(file).resolve().parent
            for _ in range(module.count(".")):
                root = root.parent
            path = str(root)
        return cls(
            launch_id, kernel.name, module, path, {k: to_plain(v) for k, v in values.items()}
        )


_BODIES: dict[tuple[str, str], Callable[..., Any]] = {}


def kernel_body(task: ComputeTask) -> Callable[..., Any]:
    """The kernel's function, found in its plugin module (imported here if need be)."""
    key = (task.module, task.kernel)
    if key not in _BODIES:
        try:
            module = importlib.import_module(task.module)
        except ImportError:
            if not task.search_path:
                raise
            if task.search_path not in sys.path:
                sys.path.insert(0, task.search_path)
            module = importlib.import_module(task.module)
        from ppu.core.kernels import Kernel

        found = [
            v for v in vars(module).values() if isinstance(v, Kernel) and v.name == task.kernel
        ]
        if not found:
            raise LookupError(f"module {task.module} defines no kernel {task.kernel}")
        _BODIES[key] = found[0].body
    return _BODIES[key]


@dataclass
class ComputeOutcome:
    outputs: dict[str, Any]  # plain
    measured: list[tuple[str, Any, str | None, dict[str, Any]]]  # name, plain, sample, extra
    worker: str
    thread_s: float
    #: workers the task was seen processing on before the one that finished it
    lost_on: list[str] = field(default_factory=list)


class RecordingContext:
    """What a computed kernel sees of its launch: its id and `measure`, which records."""

    def __init__(self, launch_id: int, kernel: str) -> None:
        self.launch_id = launch_id
        self.kernel = kernel
        self.records: list[tuple[str, Any, str | None, dict[str, Any]]] = []

    def measure(self, name: str, value: Any, sample: str | None = None, **provenance: Any) -> None:
        self.records.append((name, to_plain(value), sample, dict(provenance)))


def run_task(task: ComputeTask) -> ComputeOutcome:
    """Run one computed kernel (on whichever worker has it)."""
    ctx = RecordingContext(task.launch_id, task.kernel)
    values = {k: from_plain(v) for k, v in task.values.items()}
    t0 = time.thread_time()
    outputs = kernel_body(task)(ctx, **values) or {}
    spent = time.thread_time() - t0
    return ComputeOutcome(
        outputs={k: to_plain(v) for k, v in dict(outputs).items()},
        measured=ctx.records,
        worker=_worker_name(),
        thread_s=spent,
    )


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return f"local:{threading.current_thread().name}"


@runtime_checkable
class ComputePool(Protocol):
    """Runs computed kernels; `submit` may be called from the event loop's thread."""

    name: str

    def submit(self, task: ComputeTask) -> concurrent.futures.Future[ComputeOutcome]: ...

    def close(self) -> None: ...


class LocalPool:
    """Worker threads in this process (the default)."""

    def __init__(self, workers: int | None = None) -> None:
        n = workers or min(4, os.cpu_count() or 1)
        self.name = f"local ({n} threads)"
        self._pool = concurrent.futures.ThreadPoolExecutor(n, thread_name_prefix="ppu-compute")

    def submit(self, task: ComputeTask) -> concurrent.futures.Future[ComputeOutcome]:
        return self._pool.submit(run_task, task)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class DaskPool:
    """A Dask cluster (`dask.distributed`), reached at a scheduler address."""

    def __init__(self, address: str) -> None:
        try:
            from distributed import Client
        except ImportError as e:  # pragma: no cover - a dependency, but say what is missing
            raise RuntimeError(f"a Dask scheduler is named but distributed is missing: {e}") from e
        self.address = address
        self.name = f"dask ({address})"
        self.client = Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
        self._lock = threading.Lock()
        self._out: dict[str, tuple[Any, concurrent.futures.Future[ComputeOutcome]]] = {}
        self._seen: dict[str, list[str]] = {}
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="ppu-dask-watch", daemon=True)
        self._watcher.start()

    def submit(self, task: ComputeTask) -> concurrent.futures.Future[ComputeOutcome]:
        key = f"ppu-launch-{task.launch_id}-{os.urandom(4).hex()}"
        done: concurrent.futures.Future[ComputeOutcome] = concurrent.futures.Future()
        remote = self.client.submit(run_task, task, key=key, pure=False)
        with self._lock:
            self._out[key] = (remote, done)
            self._seen[key] = []
        remote.add_done_callback(lambda f, key=key: self._finished(key, f))
        return done

    def _finished(self, key: str, remote: Any) -> None:
        with self._lock:
            _, done = self._out.pop(key, (None, None))
            seen = self._seen.pop(key, [])
        if done is None or done.done():
            return
        try:
            outcome: ComputeOutcome = remote.result()
        except BaseException as e:
            done.set_exception(e)
            return
        outcome.lost_on = [w for w in dict.fromkeys(seen) if w != outcome.worker]
        done.set_result(outcome)

    def _watch(self) -> None:
        """Note which worker processes each outstanding task (bounded by close())."""
        while not self._stop.wait(WATCH_EVERY_S):
            with self._lock:
                if not self._out:
                    continue
            try:
                processing: Mapping[str, Any] = self.client.processing()
            except Exception:
                continue
            with self._lock:
                for worker, keys in processing.items():
                    for k in keys:
                        seen = self._seen.get(str(k))
                        if seen is not None and (not seen or seen[-1] != worker):
                            seen.append(str(worker))

    def close(self) -> None:
        self._stop.set()
        self._watcher.join(timeout=5)
        self.client.close(timeout=5)


def make_pool(scheduler: str | None, workers: int | None = None) -> ComputePool:
    """The pool a lab (or campaign) asks for: Dask at `scheduler`, else local threads."""
    return DaskPool(scheduler) if scheduler else LocalPool(workers)
