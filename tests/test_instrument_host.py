"""An instrument PC in another room: the controller and the instrument host in two network
namespaces joined by a veth pair, the pumps' serial lines carried by RFC 2217 (`ppu sim serve
--rfc2217`, as ser2net serves real ports). The link is slowed to a serial line's speed and
then cut mid-launch: the launch fails with a typed fault naming the port, is not repeated,
and the next one runs once the link is back. Before the cut, 10 % of the packets are dropped
(nftables): the launch completes and the pump has dispensed exactly what was asked.

Needs root and iproute2 (the test makes and removes its namespaces); skipped without them,
failed instead under PPU_REQUIRE_NETNS=1 (as in .ci/run). This kernel has no `netem` qdisc, so
the slow link is a token-bucket filter (`tc tbf`) and the loss an nftables rule.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BENCH_LAB

PPU = str(Path(sys.executable).with_name("ppu"))
START_S = 60.0


def _ip(*args: str) -> None:
    p = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20)
    if p.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {p.stderr.strip()}")


class Hosts:
    """Two namespaces, `ctl` (the controller's PC) and `host` (the instrument PC)."""

    def __init__(self) -> None:
        n = os.getpid()
        self.ctl, self.host = f"ppu-c{n}", f"ppu-h{n}"
        self.ctl_if, self.host_if = f"pc{n}"[:15], f"ph{n}"[:15]
        net = f"10.{200 + n % 50}.{n % 250}"
        self.ctl_addr, self.host_addr = f"{net}.1", f"{net}.2"
        _ip("netns", "add", self.ctl)
        _ip("netns", "add", self.host)
        _ip("link", "add", self.ctl_if, "netns", self.ctl, "type", "veth",
            "peer", "name", self.host_if, "netns", self.host)  # fmt: skip
        for ns, dev, addr in ((self.ctl, self.ctl_if, self.ctl_addr),
                              (self.host, self.host_if, self.host_addr)):  # fmt: skip
            _ip("-n", ns, "addr", "add", f"{addr}/30", "dev", dev)
            _ip("-n", ns, "link", "set", dev, "up")
            _ip("-n", ns, "link", "set", "lo", "up")

    def run_in(self, ns: str, *cmd: str) -> list[str]:
        return ["ip", "netns", "exec", ns, *cmd]

    def slow(self, rate: str) -> None:
        """Both directions limited to `rate` (a serial line's 9600 bit/s, say)."""
        for ns, dev in ((self.ctl, self.ctl_if), (self.host, self.host_if)):
            subprocess.run(
                self.run_in(ns, "tc", "qdisc", "replace", "dev", dev, "root", "tbf",
                            "rate", rate, "burst", "1600", "latency", "400ms"),
                check=True, capture_output=True, timeout=20,
            )  # fmt: skip

    def lossy(self, percent: int) -> None:
        """Drop `percent` % of TCP packets leaving either host (nftables), 0: none."""
        for ns in (self.ctl, self.host):
            nft = self.run_in(ns, "nft")
            subprocess.run([*nft, "delete", "table", "inet", "ppuloss"], capture_output=True)
            if percent:
                for rule in (
                    ["add", "table", "inet", "ppuloss"],
                    ["add", "chain", "inet", "ppuloss", "out",
                     "{ type filter hook output priority 0; }"],
                    ["add", "rule", "inet", "ppuloss", "out", "meta", "l4proto", "tcp",
                     "numgen", "random", "mod", "100", "<", str(percent), "drop"],
                ):  # fmt: skip
                    subprocess.run([*nft, *rule], check=True, capture_output=True, timeout=20)

    def link(self, up: bool) -> None:
        _ip("-n", self.ctl, "link", "set", self.ctl_if, "up" if up else "down")

    def remove(self) -> None:
        for ns in (self.ctl, self.host):  # the veth pair goes with its namespaces
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=20)


@pytest.fixture
def hosts() -> Iterator[Hosts]:
    missing = None
    if os.geteuid() != 0:
        missing = "network namespaces need root"
    elif shutil.which("ip") is None or shutil.which("tc") is None:
        missing = "no iproute2 (ip, tc)"
    elif shutil.which("nft") is None:
        missing = "no nftables (nft), which drops packets for the lossy link"
    if missing:
        if os.environ.get("PPU_REQUIRE_NETNS") == "1":
            pytest.fail(missing)
        pytest.skip(missing)
    h = Hosts()
    try:
        yield h
    finally:
        h.remove()


def _launch(hosts: Hosts, served: Path, db: Path, volume: str) -> tuple[int, dict, float]:
    t0 = time.monotonic()
    p = subprocess.run(
        hosts.run_in(hosts.ctl, PPU, "launch", "dispense", "--lab", str(served), "--db", str(db),
                     "--json", f"volume={volume}", "rate=20 mL/min"),
        capture_output=True, text=True, timeout=120, env=dict(os.environ),
    )  # fmt: skip
    return p.returncode, json.loads(p.stdout.strip().splitlines()[-1]), time.monotonic() - t0


def test_a_launch_across_a_slow_then_cut_link_fails_typed_and_is_not_repeated(
    hosts: Hosts, tmp_path: Path
) -> None:
    shutil.copy(BENCH_LAB, tmp_path / "bench.toml")
    server = subprocess.Popen(
        hosts.run_in(hosts.host, PPU, "sim", "serve", "--lab", "bench.toml",
                     "--host", hosts.host_addr, "--rfc2217", "--json"),
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ),
    )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(
        target=lambda: [lines.put(x) for x in server.stdout or []], daemon=True
    ).start()
    try:
        ready = json.loads(lines.get(timeout=START_S))
        urls = [d["url"] for d in ready["devices"]]
        assert all(u.startswith(f"rfc2217://{hosts.host_addr}:") for u in urls), urls
        served, db = Path(ready["served_lab"]), tmp_path / "run.sqlite"

        code, fast, fast_s = _launch(hosts, served, db, "0.1 mL")
        assert code == 0 and fast["state"] == "done", fast
        assert fast["outputs"]["dispensed"] == {"value": pytest.approx(0.1, abs=1e-3), "unit": "mL"}

        hosts.slow("9600bit")  # the network as slow as the serial line behind it
        code, slow, slow_s = _launch(hosts, served, db, "0.1 mL")
        assert code == 0 and slow["state"] == "done", slow
        assert slow_s > fast_s  # every exchange waits on the slow link

        hosts.lossy(10)  # and 10 % of the packets lost: TCP resends, the driver retries queries
        code, lossy, lossy_s = _launch(hosts, served, db, "0.1 mL")
        assert code == 0 and lossy["state"] == "done", lossy
        hosts.lossy(0)
        check = subprocess.run(
            hosts.run_in(hosts.ctl, PPU, "devices", "check", "--lab", str(served), "--json"),
            capture_output=True, text=True, timeout=120, env=dict(os.environ),
        )  # fmt: skip
        assert check.returncode == 0, check.stderr
        pump = json.loads(check.stdout.strip().splitlines()[-1])["devices"][0]
        assert pump["status"]["dispensed"] == pytest.approx(0.3, abs=1e-3)  # 3 x 0.1, none twice

        def cut_when_dispensing() -> None:  # mid-launch: 1 s into a 9 s dispense
            for _ in range(600):
                with sqlite3.connect(db) as con:
                    (n,) = con.execute(
                        "select count(*) from launchevent where state = 'running'"
                    ).fetchone()
                if n == 4:
                    time.sleep(1.0)
                    break
                time.sleep(0.1)
            hosts.link(False)

        cut = threading.Thread(target=cut_when_dispensing)
        cut.start()
        code, failed, _ = _launch(hosts, served, db, "3 mL")
        cut.join()
        assert code == 1 and failed.get("state") == "failed", failed
        assert failed["error"].startswith(f"launch {failed['launch_id']} (dispense) failed: ")
        assert f"port {urls[0]}" in failed["error"]  # the typed fault names the port

        hosts.link(True)
        code, after, _ = _launch(hosts, served, db, "0.1 mL")
        assert code == 0 and after["state"] == "done", after

        with sqlite3.connect(db) as con:
            runs = con.execute(
                "select launch_id, count(*) from launchevent where state = 'running' "
                "group by launch_id order by launch_id"
            ).fetchall()
            faults = dict(
                con.execute("select kind, count(*) from faultrecord group by kind").fetchall()
            )
            faulted = {r[0] for r in con.execute("select launch_id from faultrecord")}
            fault_rows = con.execute(
                "select launch_id, kind, count(*) from faultrecord group by 1, 2 order by 1, 2"
            ).fetchall()
        assert runs == [(1, 1), (2, 1), (3, 1), (4, 1), (5, 1)]  # none run again
        assert faulted <= {3, 4} and 4 in faulted and faults.get("PortClosed", 0) >= 1, faults
        print(
            f"fast {fast_s:.1f} s, slowed {slow_s:.1f} s, lossy {lossy_s:.1f} s; "
            f"faults by launch and kind {fault_rows}"
        )
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
