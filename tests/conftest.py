"""Shared fixtures. Every test that runs the lab's loop checks it leaked no tasks."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from ppu.clock import Clock
from ppu.store import Store

ROOT = Path(__file__).resolve().parents[1]
BENCH_LAB = ROOT / "protocols" / "examples" / "bench.toml"


@pytest.fixture(autouse=True)
def _port_locks(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PPU_LOCK_DIR", str(tmp_path_factory.mktemp("locks")))


def _close_checking_leaks(clock: Clock) -> None:
    loop = clock.loop
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for t in pending:
        t.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    clock.close()
    assert not pending, f"test leaked tasks: {pending}"


@pytest.fixture
def virtual_clock() -> Iterator[Clock]:
    clock = Clock.new_virtual()
    yield clock
    _close_checking_leaks(clock)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'ppu.sqlite'}")
    yield s
    s.close()
