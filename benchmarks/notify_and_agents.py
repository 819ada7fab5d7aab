"""What telling a person and answering an agent cost.

1. Notifications: the wall time `Notifier.send` takes on the lab's loop (it only queues), and
   from `send` to a local JSON webhook receiving the message (Apprise's json://), over N.
2. `ppu mcp` over stdio against a demo store: from launching the server to its first answer,
   then the median and p95 of `status` (one campaign) and `experiments` calls.

    .venv/bin/python benchmarks/notify_and_agents.py [--notices 200] [--calls 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PPU = Path(sys.executable).with_name("ppu")


def _p95(xs: list[float]) -> float:
    return sorted(xs)[max(0, int(len(xs) * 0.95) - 1)]


def notifications(n: int) -> dict[str, float]:
    from ppu.runtime.notices import StepWaiting
    from ppu.runtime.notifier import Notifier

    got: dict[int, float] = {}
    arrived = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            got[int(body["title"].split()[2])] = time.perf_counter()
            self.send_response(200)
            self.end_headers()
            if len(got) == n:
                arrived.set()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    notifier = Notifier(urls=(f"json://127.0.0.1:{server.server_address[1]}/b",))
    sent: dict[int, float] = {}
    on_loop = []
    for i in range(1, n + 1):
        t0 = time.perf_counter()
        notifier.send(StepWaiting(step_id=i, text="Load the sample", lab="bench"))
        on_loop.append(time.perf_counter() - t0)
        sent[i] = t0
    arrived.wait(120)
    notifier.close()
    server.shutdown()
    delivered = [got[i] - sent[i] for i in got]
    return {
        "notices": n,
        "delivered": len(got),
        "send_on_loop_median_us": statistics.median(on_loop) * 1e6,
        "send_on_loop_p95_us": _p95(on_loop) * 1e6,
        # queued behind each other: one worker sends them one at a time
        "per_message_ms": (max(got.values()) - min(sent.values())) / max(1, len(got)) * 1e3,
        "first_delivered_ms": min(delivered) * 1e3 if delivered else float("nan"),
    }


def agents(calls: int) -> dict[str, float]:
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters
    from mcp_types import Implementation

    where = Path(tempfile.mkdtemp(prefix="ppu-bench-"))
    db = str(where / "ppu.sqlite")
    env = {**os.environ, "PPU_LOCK_DIR": str(where)}
    env.pop("PPU_DB", None)
    demo = subprocess.run(
        [str(PPU), "demo", "--budget", "2", "--db", db, "--json"],
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip
    cid = json.loads(demo.stdout.strip().splitlines()[-1])["campaign_id"]
    params = StdioServerParameters(command=str(PPU), args=["mcp", "--db", db], env=env)
    out: dict[str, float] = {}

    async def run() -> None:
        t0 = time.perf_counter()
        info = Implementation(name="bench", version="1")
        async with Client(params, client_info=info) as c:
            await c.call_tool("status", {"campaign": cid})
            out["start_to_first_answer_s"] = time.perf_counter() - t0
            for tool, args in (("status", {"campaign": cid}), ("experiments", {"campaign": cid})):
                times = []
                for _ in range(calls):
                    t = time.perf_counter()
                    r = await c.call_tool(tool, args)
                    assert not r.is_error, r.content
                    times.append(time.perf_counter() - t)
                out[f"{tool}_median_ms"] = statistics.median(times) * 1e3
                out[f"{tool}_p95_ms"] = _p95(times) * 1e3

    asyncio.run(run())
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--notices", type=int, default=200)
    ap.add_argument("--calls", type=int, default=50)
    a = ap.parse_args()
    for name, figures in (("notifications", notifications(a.notices)), ("mcp", agents(a.calls))):
        print(name)
        for k, v in figures.items():
            print(f"  {k:28s} {v:10.3f}" if isinstance(v, float) else f"  {k:28s} {v:10d}")


if __name__ == "__main__":
    main()
