"""Store URLs as users type them (a path, sqlite:///…, postgresql://…) and as they are shown."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError


def default_db_url() -> str:
    return as_url(os.environ.get("PPU_DB", "ppu.sqlite"))


def as_url(db: str) -> str:
    """A path becomes a SQLite URL; anything with '://' is taken as a SQLAlchemy URL."""
    return db if "://" in db else f"sqlite:///{Path(db).expanduser()}"


def driver_url(url: str) -> str:
    """`postgresql://` as typed means psycopg (3), the driver ppu depends on; SQLAlchemy
    would otherwise look for psycopg2."""
    for bare in ("postgresql://", "postgres://"):
        if url.startswith(bare):
            return "postgresql+psycopg://" + url.removeprefix(bare)
    return url


def shown_url(url: str) -> str:
    """The URL as a message may show it: without its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url
