"""The live stream follows the store another writer fills, within 2 s; serving starts and stops
within bounds, in a thread and as `ppu serve`."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from ppu.api.server import serve_in_thread
from ppu.store import Store
from ppu.store.models import Launch, Measurement
from tests.api.conftest import PPU, TOKEN, auth

FOLLOW_S = 2.0


def events(response: httpx.Response) -> Iterator[tuple[str, str]]:
    """(event, data) pairs of a server-sent event stream."""
    name, data = "message", []
    for line in response.iter_lines():
        if line == "":
            if data:
                yield name, "\n".join(data)
            name, data = "message", []
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())


def wait_for(stream: Iterator[tuple[str, str]], want: Callable[[str, str], bool]) -> float:
    """Seconds until an event `want` accepts arrives (the client's read timeout bounds it)."""
    t0 = time.monotonic()
    for name, data in stream:
        if want(name, data):
            return time.monotonic() - t0
    raise AssertionError("the stream ended")


def test_stream_follows_what_another_writer_commits(store_copy: str, demo_campaign: str):
    url = store_copy
    handle = serve_in_thread(url, TOKEN, "127.0.0.1", 0)
    writer = Store(url, create=False)  # the runtime's own writer, as another process would use
    try:
        assert handle.url.startswith("http://127.0.0.1:")
        with (
            httpx.Client(timeout=httpx.Timeout(5.0, read=3 * FOLLOW_S)) as c,
            c.stream("GET", f"{handle.url}/api/stream") as r,
        ):
            assert r.headers["content-type"].startswith("text/event-stream")
            stream = events(r)
            wait_for(stream, lambda n, _: n == "hello")

            t0 = time.monotonic()
            launch = writer.add_launch(
                Launch(campaign_id=demo_campaign, kernel="weigh", instrument="balance"), 4.0e5
            )
            wait_for(stream, lambda n, d: n == "launch" and f'"launch_id": {launch.id}' in d)
            assert time.monotonic() - t0 < FOLLOW_S

            t0 = time.monotonic()
            writer.journal(launch, "running", 4.0e5, started_v=4.0e5)
            writer.finish(
                launch,
                "done",
                4.001e5,
                measurements=[
                    Measurement(
                        launch_id=launch.id,  # type: ignore[arg-type]
                        name="mass",
                        value=101.5,
                        unit="mg",
                        virtual_t=4.001e5,
                        wall_t=time.time(),
                    )
                ],
            )
            wait_for(stream, lambda n, d: n == "measurement" and '"unit": "mg"' in d)
            assert time.monotonic() - t0 < FOLLOW_S

            t0 = time.monotonic()
            assert (
                c.post(f"{handle.url}/api/instruments/oven/hold", headers=auth()).status_code == 202
            )
            wait_for(stream, lambda n, d: n == "command" and '"kind": "hold"' in d)
            assert time.monotonic() - t0 < FOLLOW_S

            t0 = time.monotonic()
            handle.stop()  # with a stream still open
            assert time.monotonic() - t0 < 5.0
    finally:
        writer.close()
        handle.stop()
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{handle.url}/api/campaigns", timeout=1.0)


def test_serve_in_thread_refuses_a_port_in_use(store_copy: str):
    from ppu.core.errors import BadInput

    url = store_copy
    with serve_in_thread(url, TOKEN, "127.0.0.1", 0) as first:
        port = int(first.url.rsplit(":", 1)[1])
        with pytest.raises(BadInput, match="--port"):
            serve_in_thread(url, TOKEN, "127.0.0.1", port)
        assert httpx.get(f"{first.url}/api/campaigns", timeout=2).is_success


def test_ppu_serve_serves_a_store_and_stops_on_ctrl_c(store_copy: str, demo_campaign: str):
    env = {**os.environ, "PPU_TOKEN": TOKEN}
    proc = subprocess.Popen(
        [str(PPU), "serve", "--db", str(store_copy), "--port", "0"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()
        m = re.search(r"dashboard: (http://127\.0\.0\.1:\d+)/", first)
        assert m, first
        base = m.group(1)
        assert [c["id"] for c in httpx.get(f"{base}/api/campaigns", timeout=5).json()] == [
            demo_campaign
        ]
        assert httpx.post(f"{base}/api/instruments/oven/hold", timeout=5).status_code == 401
        r = httpx.post(f"{base}/api/instruments/oven/hold", headers=auth("Lin"), timeout=5)
        assert r.status_code == 202
        assert httpx.get(f"{base}/api/audit", timeout=5).json()[0]["who"] == "Lin"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def test_ppu_serve_names_a_missing_store(tmp_path: Path):
    done = subprocess.run(
        [str(PPU), "serve", "--db", str(tmp_path / "nothing.sqlite")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --db: no store at")
