"""The dashboard API under load: latency at a steady request rate, and what happens past it.

    .venv/bin/python benchmarks/api_load.py [--rates 200 1000] [--seconds 10] [--json]

`ppu serve` runs in a process of its own over a demo store (two experiments, made once); a
load generator in this process sends GETs at a fixed rate, open-loop, by default the mix a
page reads after an event (the campaign, its experiments table, timeline, running launches,
instruments; `--one` for the campaign alone): each request is due at its own instant whether or not
earlier ones have answered, and its latency counts from that instant (so a server that falls
behind shows it, rather than slowing the generator down). Keep-alive connections, HTTP/1.1.

Per rate: answered per second, p50 / p99 latency of the 200s, how many were 503 (busy, with
Retry-After) and how many failed otherwise. Targets: p99 ≤ 50 ms at 200 req/s; at 1,000
req/s a bounded number in flight and 503s, not a queue that grows (the p99 of the 200s stays
bounded). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PPU = Path(sys.executable).with_name("ppu")
CONNECTIONS = 96


async def _request(
    pool: asyncio.Queue, host: str, port: int, path: str
) -> tuple[int, asyncio.StreamReader | None]:
    reader, writer = await pool.get()
    try:
        if writer is None or writer.is_closing():
            reader, writer = await asyncio.open_connection(host, port)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
        await reader.readexactly(length)
        return status, None
    except (OSError, asyncio.IncompleteReadError, ValueError, AttributeError):
        if writer is not None:
            writer.close()
        reader, writer = None, None  # type: ignore[assignment]
        return -1, None
    finally:
        pool.put_nowait((reader, writer))


async def load(host: str, port: int, paths: list[str], rate: float, seconds: float) -> dict:
    pool: asyncio.Queue = asyncio.Queue()
    for _ in range(CONNECTIONS):
        pool.put_nowait((None, None))
    loop = asyncio.get_running_loop()
    results: list[tuple[int, float]] = []

    async def one(due: float, path: str) -> None:
        status, _ = await _request(pool, host, port, path)
        results.append((status, loop.time() - due))

    tasks = []
    start = loop.time() + 0.2
    n = int(rate * seconds)
    for i in range(n):
        due = start + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(due, paths[i % len(paths)])))
    await asyncio.gather(*tasks)
    took = loop.time() - start
    ok = sorted(lat for st, lat in results if st == 200)
    busy = sum(1 for st, _ in results if st == 503)
    failed = sum(1 for st, _ in results if st not in (200, 503))
    return {
        "rate": rate,
        "sent": n,
        "answered_per_s": round(len(ok) / took, 1),
        "ok": len(ok),
        "busy_503": busy,
        "failed": failed,
        "p50_ms": round(1000 * statistics.median(ok), 1) if ok else None,
        "p99_ms": round(1000 * ok[int(0.99 * (len(ok) - 1))], 1) if ok else None,
        "max_ms": round(1000 * ok[-1], 1) if ok else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rates", type=float, nargs="+", default=[200.0, 1000.0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--one", action="store_true", help="only GET /api/campaigns/{id}")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "demo.sqlite"
        env = {**os.environ, "PPU_LOCK_DIR": str(Path(tmp) / "locks"), "PPU_TOKEN": "bench"}
        env.pop("PPU_DB", None)
        done = subprocess.run(
            [str(PPU), "demo", "--budget", "2", "--db", str(db), "--json"],
            check=True, capture_output=True, text=True, env=env, timeout=600,
        )  # fmt: skip
        cid = json.loads(done.stdout.strip().splitlines()[-1])["campaign_id"]
        log = Path(tmp) / "serve.log"
        with log.open("w") as f:
            proc = subprocess.Popen(
                [str(PPU), "serve", "--db", str(db), "--port", "0"], stderr=f, env=env
            )
        try:
            deadline = time.monotonic() + 30
            while not (hit := re.search(r"dashboard: http://([^:/]+):(\d+)/", log.read_text())):
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit(f"ppu serve did not start: {log.read_text()}")
                time.sleep(0.1)
            host, port = hit.group(1), int(hit.group(2))
            c = f"/api/campaigns/{cid}"
            paths = (
                [c]
                if args.one
                else [
                    c,
                    f"{c}/experiments",
                    f"{c}/timeline",
                    f"/api/launches?campaign={cid}&state=running",
                    f"/api/instruments?campaign={cid}",
                ]
            )
            asyncio.run(load(host, port, paths, 50, 2))  # warm: imports, connections, caches
            rows = [asyncio.run(load(host, port, paths, r, args.seconds)) for r in args.rates]
        finally:
            proc.terminate()
            proc.wait(10)
    print(f"GET {', '.join(paths)} in turn, {args.seconds:g} s per rate, open-loop,")
    print(f"{CONNECTIONS} connections")
    print(f"{'req/s':>7s} {'answered/s':>10s} {'p50 ms':>8s} {'p99 ms':>8s} {'max ms':>8s} "
          f"{'503':>6s} {'failed':>6s}")  # fmt: skip
    for r in rows:
        print(
            f"{r['rate']:7.0f} {r['answered_per_s']:10.1f} {r['p50_ms'] or 0:8.1f} "
            f"{r['p99_ms'] or 0:8.1f} {r['max_ms'] or 0:8.1f} {r['busy_503']:6d} {r['failed']:6d}"
        )
    print("targets: p99 ≤ 50 ms at 200 req/s; at 1,000 req/s 503s rather than a growing queue")
    if args.json:
        print(json.dumps({"paths": paths, "seconds": args.seconds, "rates": rows}))


if __name__ == "__main__":
    main()
