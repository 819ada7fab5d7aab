"""The word a person gave on a held launch, as the commands table keeps it."""

from __future__ import annotations

from sqlmodel import Session, col, select

from ppu.store.models import Command


def given_resolution(
    s: Session, launch_id: int, states: tuple[str, ...] = ("pending", "done")
) -> Command | None:
    """The person's word on a launch still waiting for one: the first `resolve` command
    for it, pending or already taken (`done`) by a controller that stopped before it settled
    the launch (the launch would not still be waiting otherwise)."""
    return s.exec(
        select(Command)
        .where(
            Command.kind == "resolve",
            col(Command.state).in_(states),
            Command.target == str(launch_id),
        )
        .order_by(col(Command.id))
    ).first()
