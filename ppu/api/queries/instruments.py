"""Instruments: their roles from the campaign's lab file, and their stored status."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from ppu.api.queries.campaigns import latest_campaign_id
from ppu.api.queries.values import finite
from ppu.store.models import (
    Campaign,
    InstrumentStatus,
    Launch,
)

# -- instruments ----------------------------------------------------------------------------

_lab_cache: dict[str, tuple[float, dict[str, list[str]]]] = {}


def lab_instruments(path: str | None) -> dict[str, list[str]]:
    """Instrument names and roles from a lab file, if this machine can read it."""
    if not path:
        return {}
    p = Path(path)
    try:
        mtime = p.stat().st_mtime
    except OSError:
        return {}
    hit = _lab_cache.get(str(p))
    if hit and hit[0] == mtime:
        return hit[1]
    try:
        raw = tomllib.loads(p.read_text())
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}
    found: dict[str, list[str]] = {}
    instruments = raw.get("instruments")
    if isinstance(instruments, dict):
        for name, spec in instruments.items():
            roles = spec.get("roles") if isinstance(spec, dict) else None
            found[str(name)] = [str(r) for r in roles] if isinstance(roles, list) else []
    _lab_cache[str(p)] = (mtime, found)
    return found


def _lab_of(c: Campaign | None) -> dict[str, list[str]]:
    if c is None or not isinstance(c.config, dict):
        return {}
    lab = c.config.get("lab")
    return lab_instruments(lab if isinstance(lab, str) else None)


def instruments(s: Session, campaign_id: str | None = None) -> list[dict[str, Any]]:
    """Every instrument: the runtime's own word where it wrote one, else what launches show."""
    cid = campaign_id or latest_campaign_id(s)
    c = s.get(Campaign, cid) if cid else None
    roles = _lab_of(c)
    status = {r.name: r for r in s.exec(select(InstrumentStatus)).all()}
    q = select(Launch).where(col(Launch.instrument).is_not(None))
    if cid:
        q = q.where(Launch.campaign_id == cid)
    by_instrument: dict[str, list[Launch]] = {}
    for x in s.exec(q.order_by(col(Launch.id))).all():
        by_instrument.setdefault(x.instrument or "", []).append(x)
    names = list(roles)
    names += [n for n in status if n not in names]
    names += [n for n in by_instrument if n not in names]
    now = finite(c.virtual_t) if c else None
    out = []
    for name in names:
        st = status.get(name)
        if st is not None:
            out.append(
                {
                    "name": name,
                    "roles": roles.get(name, []),
                    "state": st.state,
                    "holds": [h for h in (st.holds or []) if isinstance(h, str)],
                    "source": "runtime",
                    "campaign_id": st.campaign_id,
                    "launch_id": st.launch_id,
                    "kernel": st.kernel,
                    "busy_s": finite(st.busy_s) or 0.0,
                    "faults": st.faults,
                    "updated_v_s": finite(st.updated_v),
                    "updated_wall_s": finite(st.updated_wall),
                }
            )
            continue
        mine = by_instrument.get(name, [])
        running = [x for x in mine if x.state == "running"]
        busy = 0.0
        for x in mine:
            start = finite(x.started_v)
            end = finite(x.ended_v) if x.ended_v is not None else now
            if start is not None and end is not None and end > start:
                busy += end - start
        if running:
            state = "busy"
        elif c is not None and c.state in ("running", "paused"):
            state = "ready"
        else:
            state = "offline"
        out.append(
            {
                "name": name,
                "roles": roles.get(name, []),
                "state": state,
                "holds": [],
                "source": "launches",
                "campaign_id": cid,
                "launch_id": running[-1].id if running else None,
                "kernel": running[-1].kernel if running else None,
                "busy_s": busy,
                "faults": sum(1 for x in mine if x.state == "failed"),
                "updated_v_s": None,
                "updated_wall_s": None,
            }
        )
    return out


def instrument_names(s: Session) -> set[str]:
    """Every instrument any campaign or the runtime has named: the targets hold/release know."""
    names = set(s.exec(select(InstrumentStatus.name)).all())
    names |= {n for n in s.exec(select(Launch.instrument).distinct()).all() if n}
    for c in s.exec(select(Campaign)).all():
        names |= set(_lab_of(c))
    return names


def instrument_campaign(s: Session, name: str) -> str | None:
    st = s.get(InstrumentStatus, name)
    if st is not None and st.campaign_id:
        return st.campaign_id
    running = s.exec(
        select(Campaign.id)
        .where(col(Campaign.state).in_(("running", "paused")))
        .order_by(col(Campaign.created_wall).desc())
    ).first()
    return running or latest_campaign_id(s)
