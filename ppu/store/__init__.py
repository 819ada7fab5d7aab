"""The store: SQL through SQLModel, SQLite by default, any SQLAlchemy URL by `--db`."""

from ppu.store.store import Store, default_db_url

__all__ = ["Store", "default_db_url"]
