"""`ppu sim serve`: a lab's simulators in one process, a controller in others, real sockets.

Each server is a real `ppu` process on the wall clock; every wait on it is bounded, and a
server a test leaves running is killed by its pid.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ppu.cli.main import app
from ppu.core.clock import Clock
from ppu.lab.spec import load_lab
from ppu.runtime.devices_check import run_check
from ppu.runtime.sim_serve import SimServer, reseeded, served_lab, write_served
from tests.conftest import BENCH_LAB, ROOT

PPU = str(Path(sys.executable).with_name("ppu"))
PLUGIN_LAB = ROOT / "tests" / "plugin_lab"
DEMO_LAB = ROOT / "protocols" / "demo" / "lab.toml"
#: how long a server may take to come up (imports included) or to stop
START_S, STOP_S = 60.0, 10.0
runner = CliRunner()


def _ppu(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PPU, *args], capture_output=True, text=True, cwd=cwd, env=dict(os.environ), timeout=120
    )


def _last_json(p: subprocess.CompletedProcess[str]) -> dict:
    return json.loads(p.stdout.strip().splitlines()[-1])


class Server:
    """A `ppu sim serve --json` process and the JSON lines it has printed."""

    def __init__(self, *args: str, cwd: Path) -> None:
        self.proc = subprocess.Popen(
            [PPU, "sim", "serve", *args, "--json"],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ),
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stderr = ""
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def next_json(self, timeout: float) -> dict:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no line from sim serve within {timeout} s") from None
        assert line is not None, f"sim serve ended: {self._stderr()}"
        return json.loads(line)

    def stop(self, sig: signal.Signals = signal.SIGINT) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=STOP_S)

    def _stderr(self) -> str:
        if self.proc.poll() is None or self.proc.stderr is None:
            return "(still running)"
        return self.proc.stderr.read()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=STOP_S)


@pytest.fixture
def serve() -> Iterator:
    started: list[Server] = []

    def start(*args: str, cwd: Path) -> Server:
        s = Server(*args, cwd=cwd)
        started.append(s)
        return s

    yield start
    for s in started:
        s.kill()


def _port(url: str) -> int:
    assert url.startswith("socket://127.0.0.1:"), url
    return int(url.rsplit(":", 1)[1])


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def test_a_served_bench_answers_a_check_and_runs_a_dispense_on_the_wall_clock(
    tmp_path: Path, serve
):
    lab = tmp_path / "bench.toml"
    shutil.copy(BENCH_LAB, lab)
    server = serve("--lab", str(lab), cwd=tmp_path)
    ready = server.next_json(START_S)
    served = Path(ready["served_lab"])
    assert served == tmp_path / "bench.served.toml"  # beside the lab file, by default
    assert [(d["instrument"], d["device"]) for d in ready["devices"]] == [
        ("metal_feed", "pump"),
        ("linker_feed", "pump"),
    ]
    ports = [_port(d["url"]) for d in ready["devices"]]
    assert load_lab(served).name == "bench"

    check = _ppu("devices", "check", "--lab", str(served), "--json", cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    report = _last_json(check)
    assert report["dry_run"] is False and report["silent"] == 0
    assert [d["answers"] for d in report["devices"]] == [True, True]
    assert [d["port"] for d in report["devices"]] == [d["url"] for d in ready["devices"]]

    launch = _ppu(
        "launch", "dispense", "--lab", str(served), "--db", str(tmp_path / "run.sqlite"),
        "--json", "volume=0.1 mL", "rate=20 mL/min", cwd=tmp_path,
    )  # fmt: skip
    assert launch.returncode == 0, launch.stderr
    done = _last_json(launch)
    assert done["state"] == "done" and done["dry_run"] is False
    assert done["outputs"]["dispensed"]["unit"] == "mL"
    assert done["outputs"]["dispensed"]["value"] == pytest.approx(0.1, abs=1e-3)
    assert 0.2 < done["virtual_duration_s"] < 30  # 0.3 s of pumping, on the wall clock

    assert server.stop(signal.SIGINT) == 0
    last = server.next_json(STOP_S)
    assert last["stopped"] is True and last["signal"] == "SIGINT"
    assert sum(last["requests"].values()) > 0
    assert all(_refused(p) for p in ports)


def test_a_served_plugin_lab_finds_its_plugin_and_every_device_answers(tmp_path: Path, serve):
    shutil.copytree(PLUGIN_LAB, tmp_path / "lab", ignore=shutil.ignore_patterns("__pycache__"))
    server = serve("--lab", "lab/lab.toml", cwd=tmp_path)
    ready = server.next_json(START_S)
    assert Path(ready["served_lab"]) == tmp_path / "lab" / "lab.served.toml"
    assert tomllib.loads(Path(ready["served_lab"]).read_text())["plugins"] == ["hotplate"]

    check = _ppu("devices", "check", "--lab", "lab/lab.served.toml", "--json", cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    (plate,) = _last_json(check)["devices"]
    assert plate["answers"] and plate["identity"] == "HOTPLATE HP-1 SN42"
    assert plate["status"]["temperature"] == pytest.approx(22.0)

    assert server.stop(signal.SIGTERM) == 0
    assert server.next_json(STOP_S)["signal"] == "SIGTERM"
    assert _refused(_port(ready["devices"][0]["url"]))


def test_a_served_lab_with_rigs_answers_on_every_device(tmp_path: Path):
    # in this process, for speed: the server's simulators live on their own thread, the
    # check runs on a wall clock of its own, and the line between them is a plain socket
    lab_path = tmp_path / "lab.toml"
    shutil.copy(DEMO_LAB, lab_path)
    lab = load_lab(lab_path)
    clock = Clock.new_wall()
    server = SimServer(lab, clock)
    try:
        clock.loop.run_until_complete(server.start())
        assert set(server.runtime.rigs) == {i.name for i in lab.instruments.values() if i.rig}
        served = tmp_path / "served.toml"
        raw = tomllib.loads(lab_path.read_text())
        write_served(served, served_lab(raw, server.urls, lab_path), lab_path)
        report = run_check(load_lab(served), dry_run=False)
        answered = server.requests()
    finally:
        clock.loop.run_until_complete(server.stop())
        clock.close()
    n = sum(len(i.devices) for i in lab.instruments.values())
    assert [r["answers"] for r in report] == [True] * n, [r.get("why") for r in report]
    assert len(answered) == n and all(k > 0 for k in answered.values())


def test_a_port_in_use_is_one_line_naming_the_device_and_exit_1(tmp_path: Path):
    shutil.copy(BENCH_LAB, tmp_path / "bench.toml")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = runner.invoke(
            app, ["sim", "serve", "--lab", str(tmp_path / "bench.toml"), "--port", str(port),
                  "--json"],
        )  # fmt: skip
    assert r.exit_code == 1
    error = json.loads(r.stdout.strip().splitlines()[-1])["error"]
    assert "instruments.metal_feed.devices.pump" in error and f":{port}" in error
    assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "bench.served.toml").exists()


def test_a_served_file_away_from_the_plugins_beside_the_lab_is_refused_with_exit_2(
    tmp_path: Path,
):
    shutil.copytree(PLUGIN_LAB, tmp_path / "lab", ignore=shutil.ignore_patterns("__pycache__"))
    elsewhere = tmp_path / "elsewhere.toml"
    r = runner.invoke(
        app, ["sim", "serve", "--lab", str(tmp_path / "lab" / "lab.toml"), "--out", str(elsewhere)]
    )
    assert r.exit_code == 2
    assert "--out" in r.stderr and "hotplate" in r.stderr
    assert not elsewhere.exists()


def test_a_bad_lab_file_is_exit_2_before_anything_serves(tmp_path: Path):
    missing = tmp_path / "missing.toml"
    r = runner.invoke(app, ["sim", "serve", "--lab", str(missing), "--json"])
    assert r.exit_code == 2
    last = json.loads(r.stdout.strip().splitlines()[-1])
    assert last == {"error": f"{missing}: no such file", "exit_code": 2}


def test_a_seed_shift_moves_every_simulator_and_rig_seed_and_zero_changes_nothing():
    lab = load_lab(DEMO_LAB)
    assert reseeded(lab, 0) is lab
    shifted = reseeded(lab, 100)
    for name, ispec in lab.instruments.items():
        moved = shifted.instruments[name]
        for d, dspec in ispec.devices.items():
            assert moved.devices[d].simulator.seed == dspec.simulator.seed + 100
            assert moved.devices[d].simulator.options == dspec.simulator.options
        if ispec.rig is not None:
            assert moved.rig is not None and moved.rig.seed == ispec.rig.seed + 100
