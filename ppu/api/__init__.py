"""The dashboard: JSON API, live stream and one web page over the store.

`create_app(db_url, token)` builds the FastAPI app; `serve_in_thread(db_url, token, host,
port)` serves it beside a running campaign. Both import FastAPI only when called, so
`ppu --help` stays instant.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app", "serve_in_thread"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from ppu.api.app import create_app

        return create_app
    if name == "serve_in_thread":
        from ppu.api.server import serve_in_thread

        return serve_in_thread
    raise AttributeError(name)
