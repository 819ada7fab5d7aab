"""Instrument utilisation over the whole campaign and the last 24 h of lab time, and the
bottleneck: the instrument launches waited longest for (from their coming to run while it
was busy, as the journal says, to their start)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from ppu.api.queries.values import finite
from ppu.store.models import Campaign, Launch, LaunchEvent

DAY_S = 24 * 3600.0


def _busy(spans: list[tuple[float, float]], lo: float, hi: float) -> float:
    """Lab seconds inside [lo, hi] covered by the spans (they do not overlap on one lane)."""
    return sum(max(0.0, min(b, hi) - max(a, lo)) for a, b in spans)


def utilisation(s: Session, campaign_id: str, names: list[str]) -> dict[str, Any] | None:
    c = s.get(Campaign, campaign_id)
    if c is None:
        return None
    now = finite(c.virtual_t) or 0.0
    rows = s.exec(
        select(Launch).where(Launch.campaign_id == campaign_id, col(Launch.instrument).is_not(None))
    ).all()
    # a launch journals `waiting` when its instrument is busy as it comes to run
    busy_from: dict[int, float] = {}
    for launch_id, t in s.exec(
        select(LaunchEvent.launch_id, LaunchEvent.virtual_t)
        .join(Launch, col(Launch.id) == col(LaunchEvent.launch_id))
        .where(
            Launch.campaign_id == campaign_id,
            LaunchEvent.state == "waiting",
            col(LaunchEvent.detail).endswith(" is busy"),  # not its inputs: the instrument
        )
    ).all():
        busy_from.setdefault(launch_id, t)
    spans: dict[str, list[tuple[float, float]]] = {n: [] for n in names}
    waited: dict[str, float] = {n: 0.0 for n in names}
    for x in rows:
        name = x.instrument or ""
        start = finite(x.started_v)
        end = finite(x.ended_v)
        if start is not None:
            if end is None and x.state != "running":
                end = (
                    start  # held or interrupted: it is not running now, when it stopped is unknown
                )
            end = end if end is not None else max(now, start)
            now = max(now, end)
            spans.setdefault(name, []).append((start, end))
        since = finite(busy_from.get(x.id or 0))
        if since is not None and x.state not in ("held", "interrupted"):
            # until it started, or ended without starting (cancelled, replaced), or now
            until = start if start is not None else finite(x.ended_v)
            if until is None:
                until = now if x.state in ("queued", "waiting") else since
            waited[name] = waited.get(name, 0.0) + max(0.0, until - since)
    out = []
    for name, sp in spans.items():
        whole = _busy(sp, 0.0, now)
        lo = max(0.0, now - DAY_S)
        recent = _busy(sp, lo, now)
        out.append(
            {
                "name": name,
                "busy_s": whole,
                "whole": whole / now if now > 0 else 0.0,
                "last_24h": recent / (now - lo) if now > lo else 0.0,
                "launches": len(sp),
                "waited_s": waited.get(name, 0.0),
            }
        )
    bottleneck = None
    if out and now > 0:
        top = max(out, key=lambda u: (u["waited_s"], u["whole"]))
        if top["waited_s"] > 0:
            bottleneck = {
                "name": top["name"],
                "why": (
                    f"{top['name']} was busy {top['whole']:.0%} of the campaign; launches "
                    f"waited {top['waited_s'] / 3600:.1f} h in all for it"
                ),
            }
        elif top["whole"] > 0:  # nothing waited: the busiest (already `top`) sets the pace
            bottleneck = {
                "name": top["name"],
                "why": f"{top['name']} was busy {top['whole']:.0%} of the campaign; "
                "nothing waited for an instrument",
            }
    idle = [u["name"] for u in out if u["launches"] == 0 and now > 0]
    return {
        "campaign_id": campaign_id,
        "now_v_s": now,
        "instruments": out,
        "bottleneck": bottleneck,
        "idle": idle,
    }
