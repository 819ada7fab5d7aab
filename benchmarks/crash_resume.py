"""SIGKILL the controller at seeded random instants of a dry-run campaign, resume each time.

    .venv/bin/python benchmarks/crash_resume.py                 # 20 kills, 10 in serial I/O
    .venv/bin/python benchmarks/crash_resume.py --kills 3 --io-kills 2 --budget 2 --json
    .venv/bin/python benchmarks/crash_resume.py --postgres postgresql://postgres@127.0.0.1:5432/postgres

The store is SQLite files in a temp dir, or with `--postgres ADMIN_URL` a fresh database per
campaign on that PostgreSQL server (the harness creates them; the URL names a database it may
connect to, with the right to create databases).

First an uninterrupted run of the same campaign (its wall time and serial exchanges set the
scale of the kill instants). Then the campaign again, killed over and over: an I/O kill
sets PPU_CRASH_AT_EXCHANGE, so the controller SIGKILLs itself right after writing a request
and before reading the reply; a timed kill sends SIGKILL from outside after a random wall
time of campaign work (counted from when the process holds the campaign's lock, so not
while it imports). After each kill the harness settles the held launches as an operator
would (`ppu holds resolve`, seeded: rerun, failed or done) and runs `ppu resume`.

It checks, after every kill and at the end: no stored measurement or sample lost or changed;
no launch of a kernel that is not safe to repeat re-run without a person's `rerun`; no
launch run twice; every experiment finished, every launch closed; measurements only from
finished launches; the planner's saved results match the experiments. It prints the figures
and the violations (none expected); the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PPU = str(Path(sys.executable).with_name("ppu"))
OPEN_STATES = ("queued", "waiting", "running", "held", "interrupted")


def _ppu(
    args: list[str],
    env: dict[str, str],
    kill_after_s: float | None = None,
    running_when_locked: tuple[str, str] | None = None,
) -> tuple[int, str]:
    """Run `ppu …`; with `kill_after_s`, SIGKILL it from outside that long after it began
    running the campaign (it holds the campaign's lock: (store URL, campaign id)), not while
    it imports."""
    proc = subprocess.Popen(
        [PPU, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    if kill_after_s is not None and running_when_locked is not None:
        while proc.poll() is None and not _holds_lock(running_when_locked, proc.pid):
            time.sleep(0.02)
    try:
        out, _ = proc.communicate(timeout=kill_after_s)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate()
    return proc.returncode, out


def _holds_lock(lock: tuple[str, str], pid: int) -> bool:
    """Whether process `pid` has taken the campaign's lock (the lock names its owner)."""
    from ppu.runtime.holds import campaign_owner

    try:
        return f"pid {pid} " in (campaign_owner(*lock) or "")
    except Exception:  # the store is not there yet: the process is still starting
        return False


def _last_json(out: str) -> dict[str, Any]:
    lines = [x for x in out.strip().splitlines() if x.startswith("{")]
    return json.loads(lines[-1]) if lines else {}


def _rows(db: str, sql: str) -> list[tuple]:
    """What the store holds, read as another process would (SQLite or PostgreSQL)."""
    from sqlalchemy import create_engine, text

    from ppu.store.store import driver_url

    engine = create_engine(driver_url(db))
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql)).fetchall()]
    finally:
        engine.dispose()


def _exists(db: str) -> bool:
    """Whether the campaign's store has been made (the first run makes it)."""
    from sqlalchemy import create_engine, inspect

    from ppu.store.store import driver_url

    if db.startswith("sqlite:///") and not Path(db.removeprefix("sqlite:///")).exists():
        return False
    engine = create_engine(driver_url(db))
    try:
        return inspect(engine).has_table("campaign")
    finally:
        engine.dispose()


def _json(v: Any) -> Any:
    """A JSON column: text from SQLite, already parsed from PostgreSQL."""
    return json.loads(v) if isinstance(v, str) else v


def sqlite_stores(workdir: Path) -> Callable[[str], str]:
    return lambda name: f"sqlite:///{(workdir / f'{name}.sqlite').resolve()}"


def postgres_stores(admin_url: str) -> Callable[[str], str]:
    """A fresh database per store on the server `admin_url` names."""
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(admin_url).set(drivername="postgresql").render_as_string(False)
    tag = f"ppu_crash_{os.getpid()}_{int(time.time()) % 100000}"

    def new(name: str) -> str:
        db = f"{tag}_{name.replace('-', '_')}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'create database "{db}"')
        return admin_url.rsplit("/", 1)[0] + "/" + db

    return new


def _stored(db: str) -> dict[str, set]:
    return {
        "measurements": set(
            _rows(db, "select id, launch_id, sample_id, name, value, unit from measurement")
        ),
        "samples": set(_rows(db, "select id, made_by, kind from sample")),
    }


def _settle_holds(db: str, env: dict[str, str], rng: random.Random) -> list[tuple[int, str]]:
    _, out = _ppu(["holds", "--db", str(db), "--json"], env)
    settled = []
    for h in _last_json(out).get("holds", []):
        if h["resolution"] is not None:
            continue
        outcome = rng.choices(["rerun", "failed", "done"], weights=[8, 1, 1])[0]
        _ppu(
            [
                "holds",
                "resolve",
                str(h["launch_id"]),
                "--as",
                outcome,
                "--who",
                "harness",
                "--db",
                str(db),
            ],
            env,
        )
        settled.append((h["launch_id"], outcome))
    return settled


def check_final(db: str, budget: int, steps: int) -> list[str]:
    """What must hold once the campaign has ended, read from the store alone."""
    bad: list[str] = []
    (state,) = _rows(db, "select state from campaign")[0]
    if state != "done":
        bad.append(f"campaign ended {state}")
    exps = _rows(db, "select number, status, launches from experiment order by number")
    if len(exps) != budget:
        bad.append(f"{len(exps)} experiments, budget {budget}")
    for number, status, launches in exps:
        if status not in ("COMPLETED", "FAILED", "ABANDONED"):
            bad.append(f"experiment {number} left {status}")
        ids = _json(launches) or []
        if status == "COMPLETED":
            states = {
                s
                for (s,) in _rows(
                    db, f"select state from launch where id in ({','.join(map(str, ids)) or 0})"
                )
            }
            if len(ids) != steps or states != {"done"}:
                bad.append(f"experiment {number} COMPLETED with launches {ids} in {states}")
    for lid, st in _rows(db, f"select id, state from launch where state in {OPEN_STATES}"):
        bad.append(f"launch {lid} left {st}")
    for lid, n in _rows(
        db, "select launch_id, count(*) from launchevent where state='running' group by launch_id"
    ):
        if n > 1:
            bad.append(f"launch {lid} ran {n} times")
    approved = {
        int(t)
        for (t,) in _rows(
            db,
            "select target from command where kind='resolve' and argument='rerun' and state='done'",
        )
    }
    for (lid,) in _rows(
        db,
        "select id from launch where not rerun_safe and state='replaced' and started_v is not null",
    ):
        if lid not in approved:
            bad.append(f"launch {lid} (not safe to repeat) was re-run without approval")
    for mid, lid in _rows(
        db,
        "select m.id, m.launch_id from measurement m join launch l on l.id=m.launch_id "
        "where l.state != 'done'",
    ):
        bad.append(f"measurement {mid} stored from launch {lid}, which did not finish")
    for sid, lid in _rows(
        db,
        "select s.id, s.made_by from sample s join launch l on l.id=s.made_by "
        "where l.state != 'done'",
    ):
        bad.append(f"sample {sid} made by launch {lid}, which did not finish")
    terminal = len([e for e in exps if e[1] in ("COMPLETED", "FAILED", "ABANDONED")])
    last = _rows(db, "select state from plannerstate order by id desc limit 1")
    if last:
        results = len(_json(last[0][0])["results"])
        if results != terminal:
            bad.append(f"planner holds {results} results for {terminal} finished experiments")
    return bad


def run_harness(
    kills: int,
    io_kills: int,
    budget: int,
    seed: int,
    workdir: Path,
    new_store: Callable[[str], str] | None = None,
) -> dict[str, Any]:
    """`new_store(name)` makes an empty store and gives its URL (SQLite files by default)."""
    new_store = new_store or sqlite_stores(workdir)
    rng = random.Random(seed)
    env = {**os.environ, "PPU_LOCK_DIR": str(workdir / "locks")}
    env.pop("PPU_CRASH_AT_EXCHANGE", None)
    demo = ["demo", "--budget", str(budget), "--seed", str(seed), "--json"]

    base_db = new_store("baseline")
    t0 = time.perf_counter()
    rc, out = _ppu([*demo, "--db", base_db], env)
    base_wall = time.perf_counter() - t0
    base = _last_json(out)
    if rc != 0 or not base:
        raise SystemExit(f"the uninterrupted run failed (exit {rc})")
    exchanges = int(base["serial_exchanges"])
    # each stretch between kills covers on average about 1/(2·kills) of the campaign's
    # work; a campaign that ends before the planned kills is checked, and the remaining
    # kills go to a fresh one
    io_window = max(2, exchanges // max(1, kills))
    time_window = float(base["wall_s"]) / max(1, kills)

    plan = ["io"] * io_kills + ["time"] * (kills - io_kills)
    rng.shuffle(plan)
    db = new_store("crashed-1")
    dbs = [db]
    cid: str | None = None
    done: list[dict[str, Any]] = []
    bad: list[str] = []
    held: list[tuple[int, str]] = []
    finished = False
    t_start = time.perf_counter()
    while True:
        if finished:
            bad += check_final(db, budget, steps=6)
            if len(done) >= len(plan):
                break
            db = new_store(f"crashed-{len(dbs) + 1}")  # kills left: a fresh campaign
            dbs.append(db)
            cid, finished = None, False
        kind = plan[len(done)] if len(done) < len(plan) else None
        run_env = dict(env)
        kill_after = None
        at = None
        if kind == "io":  # somewhere in this stretch of the campaign's exchanges
            at = rng.randint(1, io_window)
            run_env["PPU_CRASH_AT_EXCHANGE"] = str(at)
        elif kind == "time":
            at = round(rng.uniform(0.0, time_window), 2)
            kill_after = at
        before = _stored(db) if _exists(db) else {"measurements": set(), "samples": set()}
        args = [*demo, "--db", db] if cid is None else ["resume", cid, "--db", db, "--json"]
        os.environ["PPU_LOCK_DIR"] = env["PPU_LOCK_DIR"]  # where a lock file is looked for
        lock = (db, cid or f"demo-co2-capture-s{seed}-1")
        rc, out = _ppu(args, run_env, kill_after, lock)
        if cid is None and _exists(db):
            rows = _rows(db, "select id from campaign")
            cid = rows[0][0] if rows else None
        if rc == 0:
            finished = True
        elif rc == -signal.SIGKILL:
            done.append({"kind": kind, "at": at})
        else:
            bad.append(f"a run exited {rc} (not a kill): {out[-300:]}")
            break
        after = _stored(db) if _exists(db) else before
        for what in ("measurements", "samples"):
            lost = before[what] - after[what]
            if lost:
                bad.append(f"{len(lost)} {what} lost or changed after kill {len(done)}")
        if not finished and _exists(db):
            held += _settle_holds(db, env, rng)
        if len(done) > kills + 50:
            bad.append("the campaign never finished")
            break
    crashed_wall = time.perf_counter() - t_start
    summary = _last_json(out) if finished else {}
    counts = [
        {
            "experiments": _rows(d, "select count(*) from experiment")[0][0],
            "completed": _rows(d, "select count(*) from experiment where status='COMPLETED'")[0][0],
            "samples": _rows(d, "select count(*) from sample")[0][0],
            "measurements": _rows(d, "select count(*) from measurement")[0][0],
            "launches": _rows(d, "select count(*) from launch")[0][0],
        }
        for d in dbs
        if _exists(d)
    ]
    return {
        "store": db.split(":", 1)[0],
        "kills": len(done),
        "io_kills": sum(k["kind"] == "io" for k in done),
        "timed_kills": sum(k["kind"] == "time" for k in done),
        "kill_instants": done,
        "holds_settled": held,
        "finished": finished,
        "violations": bad,
        "campaigns": len(dbs),
        "counts": counts,
        "baseline": {
            "experiments": base["experiments"],
            "completed": base["completed"],
            "wall_s": round(base_wall, 1),
            "serial_exchanges": exchanges,
        },
        "best": (summary.get("best") or {}).get("objectives"),
        "wall_s_with_kills": round(crashed_wall, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--io-kills", type=int, default=10)
    ap.add_argument("--budget", type=int, default=8)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--postgres", metavar="ADMIN_URL", default=None)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    workdir = a.workdir or Path(tempfile.mkdtemp(prefix="ppu-crash-"))
    workdir.mkdir(parents=True, exist_ok=True)
    stores = postgres_stores(a.postgres) if a.postgres else sqlite_stores(workdir)
    r = run_harness(a.kills, a.io_kills, a.budget, a.seed, workdir, stores)
    if not a.json:
        print(f"kills: {r['kills']} ({r['io_kills']} inside serial I/O, {r['timed_kills']} timed)")
        print(f"holds settled by the harness: {r['holds_settled']}")
        print(f"campaigns: {r['campaigns']}; final counts of each: {r['counts']}")
        print(f"uninterrupted run: {r['baseline']}")
        print(f"campaign finished: {r['finished']}; wall with kills {r['wall_s_with_kills']} s")
        print(f"violations: {len(r['violations'])}")
        for v in r["violations"]:
            print(f"  {v}")
    print(json.dumps(r))


if __name__ == "__main__":
    main()
