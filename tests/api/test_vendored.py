"""The charting library the page serves is the one the recorded step vendored: the exact
npm version locked with its integrity hash, the bundle's bytes as SHA256SUMS has them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

VENDOR = Path(__file__).resolve().parents[2] / "ppu" / "api" / "static" / "vendor"


def test_the_vendored_bundle_is_the_locked_version_with_the_recorded_hashes():
    wanted = json.loads((VENDOR / "package.json").read_text())["dependencies"]
    lock = json.loads((VENDOR / "package-lock.json").read_text())["packages"]
    for name, version in wanted.items():
        locked = lock[f"node_modules/{name}"]
        assert locked["version"] == version and locked["integrity"].startswith("sha512-")
    sums = dict(reversed(line.split()) for line in (VENDOR / "SHA256SUMS").read_text().splitlines())
    assert set(sums) == {"plotly-basic.min.js", "plotly.LICENSE"}
    for name, digest in sums.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
    assert "vendor.sh" in {p.name for p in VENDOR.iterdir()}
    # the page asks nothing of the network: no URL to another host inside the bundle's loader
    html = (VENDOR.parent / "index.html").read_text()
    assert '<script src="/static/vendor/plotly-basic.min.js"></script>' in html
