"""Computed kernels on a real Dask cluster: a scheduler and two workers, each its own
process on 127.0.0.1. The digital screen runs there, a campaign is the same with or without
the cluster, and a worker killed mid-screen loses no estimate (the re-run is journaled)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from ppu.core.clock import Clock
from ppu.core.kernels import In, kernel
from ppu.core.units import Q_
from ppu.lab.spec import ComputeSpec, load_lab
from ppu.runtime.runtime import running
from ppu.store import Store
from ppu.store.models import Launch as LaunchRow
from ppu.store.models import LaunchEvent, Measurement
from tests.conftest import BENCH_LAB

ROOT = Path(__file__).resolve().parents[1]
DASK = Path(sys.executable).with_name("dask")
DEMO = ROOT / "protocols" / "demo"


def _wait_for(path: Path, what: str, timeout_s: float = 60.0) -> None:
    t0 = time.monotonic()
    while not path.exists() or not path.read_text().strip():
        if time.monotonic() - t0 > timeout_s:
            raise TimeoutError(f"{what} did not start within {timeout_s:.0f} s")
        time.sleep(0.1)


class Cluster:
    def __init__(self, tmp: Path) -> None:
        self.file = tmp / "scheduler.json"
        env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
        self.scheduler = subprocess.Popen(
            [
                str(DASK),
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(self.file),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd=ROOT,
        )
        _wait_for(self.file, "the Dask scheduler")
        self.address = json.loads(self.file.read_text())["address"]
        self.workers = [
            subprocess.Popen(
                [
                    str(DASK),
                    "worker",
                    "--scheduler-file",
                    str(self.file),
                    "--nthreads",
                    "1",
                    "--no-nanny",
                    "--no-dashboard",
                    "--host",
                    "127.0.0.1",
                    "--name",
                    f"w{i}",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=env,
                cwd=ROOT,
            )
            for i in range(2)
        ]
        from distributed import Client

        with Client(self.address, timeout=30) as c:
            c.wait_for_workers(2, timeout=60)
            self.worker_addresses = sorted(c.scheduler_info()["workers"])

    def stop(self) -> None:
        for p in [*self.workers, self.scheduler]:
            if p.poll() is None:
                p.terminate()
        for p in [*self.workers, self.scheduler]:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(tmp_path_factory.mktemp("dask"))
    try:
        yield c
    finally:
        c.stop()


@kernel(role=None, outputs={"score": "mmol/g"}, fidelity="computed", model="slow test", cpu_s=0.2)
def slow_estimate(ctx, x=In("", ge=0, le=1000, default=0)):
    """A computed kernel slow enough (0.2 s of wall time) to be caught mid-screen."""
    time.sleep(0.2)
    value = Q_(float(x.m_as("")) / 10.0, "mmol/g")
    ctx.measure("score", value, sigma=0.1)
    return {"score": value}


def _summary_without_wall(out: str) -> dict:
    s = json.loads(out.strip().splitlines()[-1])
    for k in ("wall_s", "db", "campaign_id"):
        s.pop(k)
    return s


def test_a_twin_campaign_is_the_same_with_or_without_the_cluster(
    cluster: Cluster, tmp_path: Path
) -> None:
    """Same seed, same campaign: on the local pool, and with the screen on Dask."""
    text = (DEMO / "campaign_twin.toml").read_text()
    text = (
        text.replace("experiments = 8", "experiments = 3")
        .replace("first_screen = 256", "first_screen = 64")
        .replace("per_measurement = 32", "per_measurement = 8")
    )
    local = tmp_path / "local.toml"
    local.write_text(text)
    remote = tmp_path / "remote.toml"
    remote.write_text(text + f'\n[compute]\nscheduler = "{cluster.address}"\n')
    outs = []
    for f, db in ((local, "l"), (remote, "r")):
        p = subprocess.run(
            [
                str(Path(sys.executable).with_name("ppu")),
                "run",
                str(f),
                "--lab",
                str(DEMO / "lab.toml"),
                "--dry-run",
                "--json",
                "--db",
                f"sqlite:///{tmp_path / db}.sqlite",
            ],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=ROOT,
        )
        assert p.returncode == 0, p.stderr[-2000:]
        outs.append(_summary_without_wall(p.stdout))
    assert outs[0]["fidelities"]["computed"]["done"] >= 64
    assert outs[0] == outs[1]
    store = Store(f"sqlite:///{tmp_path / 'r'}.sqlite", create=False)
    workers = {
        m.provenance["worker"]
        for m in store.session.exec(select(Measurement).where(Measurement.fidelity == "computed"))
    }
    store.close()
    assert workers and workers <= set(cluster.worker_addresses)


def test_a_worker_killed_mid_screen_loses_no_estimate(cluster: Cluster, tmp_path: Path) -> None:
    lab = load_lab(BENCH_LAB)
    store = Store(f"sqlite:///{tmp_path / 'k.sqlite'}")
    clock = Clock.new_virtual()
    victim = cluster.workers[0]
    n = 24

    async def main() -> list:
        async with running(
            lab, clock, store, dry_run=True, compute=ComputeSpec(cluster.address)
        ) as rt:
            handles = [rt.launch(slow_estimate, x=i) for i in range(n)]
            import asyncio

            while sum(h.future.done() for h in handles) < 4:  # bounded by the tasks' end
                with clock.holding():
                    await asyncio.get_running_loop().run_in_executor(None, time.sleep, 0.05)
            victim.send_signal(signal.SIGKILL)
            return [await h for h in handles]

    try:
        outs = clock.loop.run_until_complete(main())
    finally:
        clock.close()
    assert [o["score"].m_as("mmol/g") for o in outs] == pytest.approx([i / 10 for i in range(n)])
    launches = store.session.exec(select(LaunchRow)).all()
    assert len(launches) == n and {row.state for row in launches} == {"done"}
    computed = store.session.exec(
        select(Measurement).where(Measurement.fidelity == "computed")
    ).all()
    assert len(computed) == n
    reruns = [
        e.detail
        for e in store.session.exec(select(LaunchEvent))
        if e.detail and e.detail.startswith("re-run on")
    ]
    store.close()
    assert reruns, "no re-run was journaled"
    assert all("was lost" in r for r in reruns)
