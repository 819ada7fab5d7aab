"""Store → page: wall time from a row's commit to the dashboard showing it, in Chromium.

    .venv/bin/python benchmarks/dashboard_latency.py [--rows 30] [--json]

A demo store (two experiments, made once) is set running again, then a writer adds operator
steps one at a time, at irregular intervals; the page records (a MutationObserver, the
browser's clock) when each step's card appears under "Waiting for you". Two set-ups side by
side:

* in-process: the dashboard serves from a thread of the writer's process (as `ppu run
  --serve`), so the store's commit bell pushes the change at once;
* other process: `ppu serve --db` in a process of its own follows a store another process
  writes (no bell there), looking every 0.4 s.

Prints median, p90 and max per set-up; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import update

from ppu.api.server import serve_in_thread
from ppu.store import Store
from ppu.store.models import Campaign, OperatorStepRecord

PPU = Path(sys.executable).with_name("ppu")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
WATCH = """() => {
  window.seenAt = {};
  new MutationObserver(() => {
    for (const li of document.querySelectorAll('#steps li[data-step]')) {
      if (!(li.dataset.step in window.seenAt)) window.seenAt[li.dataset.step] = Date.now();
    }
  }).observe(document.querySelector('#steps'), { childList: true, subtree: true });
}"""


def demo_store(where: Path) -> str:
    db = where / "demo.sqlite"
    env = {**os.environ, "PPU_LOCK_DIR": str(where / "locks")}
    env.pop("PPU_DB", None)
    subprocess.run(
        [str(PPU), "demo", "--budget", "2", "--db", str(db), "--json"],
        check=True, capture_output=True, env=env, timeout=600,
    )  # fmt: skip
    url = f"sqlite:///{db}"
    store = Store(url)
    store._write(update(Campaign).values(state="running"))  # a live campaign's page
    store.close()
    return url


def measure(page_url: str, writer: Store, campaign_id: str, rows: int, seed: int) -> list[float]:
    from playwright.sync_api import sync_playwright

    rng = random.Random(seed)
    out = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(page_url)
        page.wait_for_selector("#live.on")
        page.wait_for_timeout(1500)  # the first full render done
        page.evaluate(WATCH)
        for k in range(rows):
            time.sleep(rng.uniform(0.3, 0.9))  # not in step with the server's timer
            sid = writer.add_step(
                OperatorStepRecord(
                    campaign_id=campaign_id,
                    instrument="balance",
                    text=f"benchmark step {k}",
                    created_wall=time.time(),
                )
            )
            committed = time.time() * 1000
            page.wait_for_function("id => id in window.seenAt", arg=str(sid), timeout=10_000)
            out.append(page.evaluate("id => window.seenAt[id]", str(sid)) - committed)
        browser.close()
    return out


def figures(ms: list[float]) -> dict[str, float]:
    ms = sorted(ms)
    return {
        "median_ms": round(statistics.median(ms), 1),
        "p90_ms": round(ms[int(0.9 * (len(ms) - 1))], 1),
        "max_ms": round(ms[-1], 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rows", type=int, default=30)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = demo_store(Path(tmp))
        writer = Store(url, create=False)
        cid = writer.session.exec(__import__("sqlmodel").select(Campaign.id)).first()
        try:
            with serve_in_thread(url, "bench", "127.0.0.1", 0) as server:
                inproc = measure(f"{server.url}/", writer, cid, args.rows, 1)
            env = {**os.environ, "PPU_TOKEN": "bench"}
            log = Path(tmp) / "serve.log"
            with log.open("w") as f:
                proc = subprocess.Popen(
                    [str(PPU), "serve", "--db", url, "--port", "0"], stderr=f, env=env
                )
            try:
                deadline = time.monotonic() + 30
                while not (hit := re.search(r"dashboard: (http://[^/ ]+)/", log.read_text())):
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise SystemExit(f"ppu serve did not start: {log.read_text()}")
                    time.sleep(0.1)
                other = measure(f"{hit.group(1)}/", writer, cid, args.rows, 2)
            finally:
                proc.terminate()
                proc.wait(10)
        finally:
            writer.close()
    result = {"rows": args.rows, "in_process": figures(inproc), "other_process": figures(other)}
    print(f"{'store → page (ms)':24s} {'median':>8s} {'p90':>8s} {'max':>8s}")
    for name in ("in_process", "other_process"):
        f = result[name]
        label = name.replace("_", " ")
        print(f"{label:24s} {f['median_ms']:8.1f} {f['p90_ms']:8.1f} {f['max_ms']:8.1f}")
    print("targets: in-process median ≤ 200 ms; another process's store ≤ 1000 ms")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
